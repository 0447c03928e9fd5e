import type Redis from 'ioredis'
import { rk } from '../store/keys'
import { addPacked, bucketIds, type Counters, dim, totalTokens, unpack, zeroCounters } from './buckets'
import { countersView } from './record'

export type Granularity = 'hour' | 'day'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

const bucketStart = (granularity: Granularity, t: number) => {
  const step = granularity === 'hour' ? HOUR_MS : DAY_MS
  return Math.floor(t / step) * step
}

/** Bucket ids covering `from`..`to` (UTC), oldest first; at most 7 days of hours or 90 days. */
export function bucketRange(granularity: Granularity, from: Date, to: Date): string[] {
  const step = granularity === 'hour' ? HOUR_MS : DAY_MS
  const max = granularity === 'hour' ? 7 * 24 : 90
  const first = bucketStart(granularity, from.getTime())
  const out: string[] = []
  for (let t = bucketStart(granularity, to.getTime()); t >= first && out.length < max; t -= step) out.push(bucketIds(new Date(t))[granularity])
  return out.reverse()
}

/** One dimension's counters per bucket (a chart series), one pipeline. */
export async function trend(redis: Redis, granularity: Granularity, buckets: string[], field: string) {
  const pipe = redis.pipeline()
  for (const b of buckets) pipe.hget(rk.usageBucket(granularity, b), field)
  const rows = (await pipe.exec()) ?? []
  return buckets.map((bucket, i) => ({ bucket, ...countersView(unpack(rows[i]?.[1] as string | null)) }))
}

/**
 * The fewest bucket keys whose sum is the range `from`..`to` (UTC days): a month bucket where the
 * range covers that month up to its end or to now (no data lies in the future), day buckets for
 * the rest. "The last 30 days" then reads 1–31 hashes instead of always 30; 90 days about 3 + days.
 */
export function coveringBuckets(from: Date, to: Date, now = new Date()): string[] {
  const keys: string[] = []
  const start = bucketStart('day', from.getTime())
  const end = Math.min(to.getTime(), now.getTime())
  let month = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1)
  while (month <= end) {
    const d = new Date(month)
    const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
    if (start <= month && end >= Math.min(next - 1, now.getTime())) {
      keys.push(rk.usageBucket('month', bucketIds(d).month))
    }
    else {
      for (let t = Math.max(month, start); t < next && t <= end; t += DAY_MS) keys.push(rk.usageBucket('day', bucketIds(new Date(t)).day))
    }
    month = next
  }
  return keys
}

/**
 * Sum many fields of one dimension kind over bucket hashes (full keys): one HMGET per bucket, so
 * the cost grows with buckets × fields read, never with the size of Redis.
 */
export async function sumFields(redis: Redis, bucketKeys: string[], fields: string[]): Promise<Counters[]> {
  const sums = fields.map(() => zeroCounters())
  if (fields.length === 0 || bucketKeys.length === 0) return sums
  const pipe = redis.pipeline()
  for (const k of bucketKeys) pipe.hmget(k, ...fields)
  for (const [, row] of (await pipe.exec()) ?? []) {
    (row as (string | null)[]).forEach((v, i) => {
      if (v) addPacked(sums[i]!, v)
    })
  }
  return sums
}

/** Counters per id (keys, accounts or models) over bucket keys, largest cost first, zero rows dropped. */
export async function breakdown(redis: Redis, bucketKeys: string[], ids: string[], field: (id: string) => string) {
  const sums = await sumFields(redis, bucketKeys, ids.map(field))
  return ids
    .map((id, i) => ({ id, ...countersView(sums[i]!) }))
    .filter(r => r.requests > 0)
    .sort((a, b) => b.costMicros - a.costMicros || b.requests - a.requests)
}

/** Requests and tokens per minute over the last `minutes` complete-or-current minutes (fields of their hour buckets). */
async function ratePerMinute(redis: Redis, minutes = 5, now = new Date()) {
  const pipe = redis.pipeline()
  for (let i = 0; i < minutes; i++) {
    const b = bucketIds(new Date(now.getTime() - i * 60_000))
    pipe.hget(rk.usageBucket('hour', b.hour), dim.minute(b.minute))
  }
  const sum = zeroCounters()
  for (const [, v] of (await pipe.exec()) ?? []) {
    if (v) addPacked(sum, v as string)
  }
  return { rpm: Math.round((sum.requests / minutes) * 10) / 10, tpm: Math.round(totalTokens(sum) / minutes) }
}

/** Dashboard summary: today and all-time totals, keys and accounts used today, RPM/TPM. */
export async function dashboardUsage(redis: Redis, now = new Date()) {
  const day = rk.usageBucket('day', bucketIds(now).day)
  const rows = (await redis.pipeline().hget(day, dim.all).hget(rk.usageTotal(), dim.all).hkeys(day).exec()) ?? []
  const today = unpack(rows[0]?.[1] as string | null)
  const total = unpack(rows[1]?.[1] as string | null)
  const fields = (rows[2]?.[1] ?? []) as string[]
  const rate = await ratePerMinute(redis, 5, now)
  return {
    today: { ...countersView(today), tokens: totalTokens(today) },
    total: { ...countersView(total), tokens: totalTokens(total) },
    keysUsedToday: fields.filter(f => f.startsWith('k:')).length,
    accountsUsedToday: fields.filter(f => f.startsWith('a:')).length,
    ...rate,
  }
}
