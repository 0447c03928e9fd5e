import { BUCKET_TTL_SECONDS, type Counters, dim, zeroCounters } from '../../usage/buckets'
import type { CrsSource } from './source'

/** How far back daily history is taken (this relay keeps day buckets 90 days). */
export const HISTORY_DAYS = 90

const DAY_MS = 86_400_000
const DATE = /^\d{4}-\d{2}-\d{2}$/

/**
 * The UTC day id a CRS local date becomes. CRS dates are days at UTC+offset; a local day spans
 * two UTC days, so it goes whole to the one holding most of it: the UTC day of its local noon.
 * Distinct local days stay distinct days.
 */
export function crsDayToUtc(date: string, offsetHours: number): string {
  if (!DATE.test(date)) throw new Error(`not a date: ${date}`)
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  return new Date(Date.UTC(y, m - 1, d, 12) - offsetHours * 3_600_000).toISOString().slice(0, 10)
}

/** Counters from a CRS usage hash (daily, key×model, or all-time with its `total…` names). */
export function crsCounters(h: Record<string, string>, costMicros: number, prefix = ''): Counters {
  const n = (f: string) => Math.max(0, Math.floor(Number(h[prefix ? `${prefix}${f[0]!.toUpperCase()}${f.slice(1)}` : f]) || 0))
  const create = n('cacheCreateTokens')
  const oneHour = Math.min(create, n('ephemeral1hTokens'))
  return {
    ...zeroCounters(), requests: n('requests'), inputTokens: n('inputTokens'), outputTokens: n('outputTokens'),
    // CRS counts cache writes as one number and the 1-hour ones apart: the rest are 5-minute writes.
    cacheCreate5m: create - oneHour, cacheCreate1h: oneHour, cacheRead: n('cacheReadTokens'), costMicros,
  }
}

const usd = (v: string | null | undefined) => Math.max(0, Math.round((Number(v) || 0) * 1e6))
/** A key×model hash's cost: the rated (billed) cost CRS limits counted, else the list-price one. */
const modelCost = (h: Record<string, string>) => Math.max(0, Math.floor(Number(h.ratedCostMicro || h.realCostMicro) || 0))

function add(into: Map<string, Counters>, field: string, c: Counters): void {
  const cur = into.get(field)
  if (!cur) into.set(field, { ...c })
  else for (const k of Object.keys(c) as (keyof Counters)[]) cur[k] += c[k]
}

/** What goes into this relay's usage buckets: field → counters per bucket hash, and which models each key used. */
export interface UsageImport {
  /** Bucket name (`day:2026-11-29`, `month:2026-11`, `total`) → dimension field → counters. */
  buckets: Map<string, Map<string, Counters>>
  keyModels: Map<string, Set<string>>
  /** Key-days taken into day buckets, and CRS days skipped as older than HISTORY_DAYS. */
  keyDays: number
  olderDays: number
}

/** The TTL a bucket gets when the import creates it: what is left of its life as if written on its day (0 = none). */
export function bucketTtlSeconds(bucket: string, now: Date): number {
  const [kind, id] = bucket.split(':') as ['day' | 'month' | 'total', string | undefined]
  if (kind === 'total' || !id) return 0
  const start = Date.parse(kind === 'day' ? `${id}T00:00:00Z` : `${id}-01T00:00:00Z`)
  const end = kind === 'day' ? start + DAY_MS : Date.UTC(new Date(start).getUTCFullYear(), new Date(start).getUTCMonth() + 1, 1)
  return Math.max(1, Math.floor((end + BUCKET_TTL_SECONDS[kind] * 1000 - DAY_MS - now.getTime()) / 1000))
}

const KEY_DAILY = /^usage:daily:([0-9a-f-]{36}):(\d{4}-\d{2}-\d{2})$/
const KEY_MODEL_DAILY = /^usage:([0-9a-f-]{36}):model:daily:(.{1,200}):(\d{4}-\d{2}-\d{2})$/
const KEY_MODEL_ALLTIME = /^usage:([0-9a-f-]{36}):model:alltime:(.{1,200})$/

/**
 * Read the usage history of `keyIds` from CRS: per-key and key×model daily totals of the last
 * HISTORY_DAYS (dates converted from UTC+offsetHours) for day and month buckets, and each key's
 * all-time totals (everything it ever used, older days included) for the all-time bucket. The
 * model and global dimensions are sums over the imported keys, so every view adds up.
 */
export async function readCrsUsage(src: CrsSource, keyIds: Set<string>, offsetHours: number, now: Date): Promise<UsageImport> {
  const out: UsageImport = { buckets: new Map(), keyModels: new Map(), keyDays: 0, olderDays: 0 }
  const bucket = (name: string) => out.buckets.get(name) ?? out.buckets.set(name, new Map()).get(name)!
  const oldest = now.getTime() - HISTORY_DAYS * DAY_MS
  const recent = (utcDay: string) => Date.parse(`${utcDay}T00:00:00Z`) + DAY_MS > oldest && Date.parse(`${utcDay}T00:00:00Z`) <= now.getTime()
  const toDayAndMonth = (utcDay: string, fields: [string, Counters][]) => {
    for (const name of [`day:${utcDay}`, `month:${utcDay.slice(0, 7)}`]) for (const [f, c] of fields) add(bucket(name), f, c)
  }
  const models = (keyId: string) => out.keyModels.get(keyId) ?? out.keyModels.set(keyId, new Set()).get(keyId)!

  // Per key per day (cost lives in its own string key).
  const daily = (await src.keys('usage:daily:*')).map(k => KEY_DAILY.exec(k)).filter(m => m && keyIds.has(m[1]!)) as RegExpExecArray[]
  const dailyRows = await src.hgetallMany(daily.map(m => m[0]))
  const dailyCost = await src.getMany(daily.map(m => `usage:cost:daily:${m[1]}:${m[2]}`))
  daily.forEach(([, keyId, date], i) => {
    const day = crsDayToUtc(date!, offsetHours)
    if (!recent(day)) {
      out.olderDays++
      return
    }
    out.keyDays++
    const c = crsCounters(dailyRows[i]!, usd(dailyCost[i]))
    toDayAndMonth(day, [[dim.key(keyId!), c], [dim.all, c]])
  })

  // Per key × model per day.
  const keyModel = (await src.keys('usage:*:model:daily:*')).map(k => KEY_MODEL_DAILY.exec(k)).filter(m => m && keyIds.has(m[1]!)) as RegExpExecArray[]
  const kmRows = await src.hgetallMany(keyModel.map(m => m[0]))
  keyModel.forEach(([, keyId, model, date], i) => {
    const day = crsDayToUtc(date!, offsetHours)
    if (!recent(day)) return
    const c = crsCounters(kmRows[i]!, modelCost(kmRows[i]!))
    models(keyId!).add(model!)
    toDayAndMonth(day, [[dim.keyModel(keyId!, model!), c], [dim.model(model!), c]])
  })

  // All-time per key (`usage:{id}`, `usage:cost:total:{id}`) and per key × model.
  const ids = [...keyIds]
  const totals = await src.hgetallMany(ids.map(id => `usage:${id}`))
  const totalCost = await src.getMany(ids.map(id => `usage:cost:total:${id}`))
  const total = bucket('total')
  ids.forEach((id, i) => {
    const c = crsCounters(totals[i]!, usd(totalCost[i]), 'total')
    if (c.requests === 0 && c.costMicros === 0) return
    add(total, dim.key(id), c)
    add(total, dim.all, c)
  })
  const alltime = (await src.keys('usage:*:model:alltime:*')).map(k => KEY_MODEL_ALLTIME.exec(k)).filter(m => m && keyIds.has(m[1]!)) as RegExpExecArray[]
  const atRows = await src.hgetallMany(alltime.map(m => m[0]))
  alltime.forEach(([, keyId, model], i) => {
    const c = crsCounters(atRows[i]!, modelCost(atRows[i]!))
    if (c.requests === 0) return
    models(keyId!).add(model!)
    add(total, dim.keyModel(keyId!, model!), c)
    add(total, dim.model(model!), c)
  })
  return out
}
