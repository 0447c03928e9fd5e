import type Redis from 'ioredis'
import type { Usage } from './types'
import { rk } from '../store/keys'

/** Daily buckets are kept this long. */
const DAILY_TTL_SECONDS = 90 * 24 * 3600

/** Hash field names for each counter (short: they repeat in every bucket). */
const FIELDS = {
  requests: 'requests',
  inputTokens: 'input',
  outputTokens: 'output',
  cacheCreate5m: 'cache_create_5m',
  cacheCreate1h: 'cache_create_1h',
  cacheRead: 'cache_read',
} as const

export interface UsageEvent {
  keyId: string
  accountId: string
  accountKey: string
  model: string
  usage: Usage
  aborted: boolean
  at: Date
}

/** "YYYY-MM-DD" in UTC: the daily bucket a timestamp belongs to. */
export const utcDay = (d: Date) => d.toISOString().slice(0, 10)

/**
 * Record one request with ONE command (the recordUsage script): key totals, the key's day (totals
 * and per-model fields `m:{model}:{counter}`), and last-used stamps. Zero counters are skipped.
 */
export async function recordUsage(redis: Redis, e: UsageEvent): Promise<void> {
  const args: (string | number)[] = [e.model, DAILY_TTL_SECONDS, e.at.toISOString(), e.aborted ? 1 : 0, FIELDS.requests, 1]
  for (const k of COUNTERS) {
    if (e.usage[k]) args.push(FIELDS[k], e.usage[k])
  }
  await redis.recordUsage(rk.usageTotal(e.keyId), rk.usageDaily(utcDay(e.at), e.keyId), rk.apiKey(e.keyId), e.accountKey, ...args)
}

const COUNTERS = ['inputTokens', 'outputTokens', 'cacheCreate5m', 'cacheCreate1h', 'cacheRead'] as const

export interface UsageTotals {
  requests: number
  inputTokens: number
  outputTokens: number
  cacheCreate5m: number
  cacheCreate1h: number
  cacheRead: number
  aborted: number
}

function totalsFrom(h: Record<string, string>, prefix = ''): UsageTotals {
  const get = (f: string) => Number(h[prefix + f] ?? 0)
  return {
    requests: get(FIELDS.requests), inputTokens: get(FIELDS.inputTokens), outputTokens: get(FIELDS.outputTokens),
    cacheCreate5m: get(FIELDS.cacheCreate5m), cacheCreate1h: get(FIELDS.cacheCreate1h), cacheRead: get(FIELDS.cacheRead),
    aborted: get('aborted'),
  }
}

export interface DailyUsage extends UsageTotals { date: string, models: Record<string, UsageTotals> }

/** A key's all-time totals and its last `days` daily buckets (newest first), one round trip. */
export async function readKeyUsage(redis: Redis, keyId: string, days: number, now = new Date()): Promise<{ total: UsageTotals, daily: DailyUsage[] }> {
  const dates = Array.from({ length: days }, (_, i) => utcDay(new Date(now.getTime() - i * 86_400_000)))
  const pipe = redis.pipeline().hgetall(rk.usageTotal(keyId))
  for (const d of dates) pipe.hgetall(rk.usageDaily(d, keyId))
  const [[, totalHash], ...dayRows] = ((await pipe.exec()) ?? []) as [Error | null, Record<string, string>][]
  const daily = dayRows.map(([, h], i) => {
    const models: Record<string, UsageTotals> = {}
    for (const field of Object.keys(h)) {
      const m = /^m:(.+):requests$/.exec(field)
      if (m) models[m[1]!] = totalsFrom(h, `m:${m[1]}:`)
    }
    return { date: dates[i]!, ...totalsFrom(h), models }
  })
  return { total: totalsFrom(totalHash ?? {}), daily }
}
