import type Redis from 'ioredis'
import { rk } from '../store/keys'
import { type Counters, dim, unpack } from './buckets'
import { cacheLedger, type CacheLedger } from './ledger'
import type { PriceTable } from './pricing'
import { type Granularity, sumFields } from './stats'

/** One row of the cache ledger: an account, a model or a time bucket, with its request count. */
export type CacheRow = CacheLedger & { id: string, requests: number }

/** Requests and the ledger of per-model counters. */
function row(id: string, table: PriceTable, byModel: [string, Counters][]): CacheRow {
  return { id, requests: byModel.reduce((n, [, c]) => n + c.requests, 0), ...cacheLedger(table, byModel) }
}

/**
 * The ledger per account (from its account×model counters) or per model, summed over bucket keys
 * (the all-time bucket for all time): one HMGET per bucket of ids × models fields. Rows without
 * requests are left out; the most saved first.
 */
export async function cacheBreakdown(redis: Redis, table: PriceTable, by: 'account' | 'model', bucketKeys: string[], ids: string[]): Promise<CacheRow[]> {
  const models = by === 'model' ? [] : await redis.smembers(rk.usageModels())
  const fields = by === 'model' ? ids.map(dim.model) : ids.flatMap(a => models.map(m => dim.accountModel(a, m)))
  const sums = await sumFields(redis, bucketKeys, fields)
  const rows = by === 'model'
    ? ids.map((id, i) => row(id, table, [[id, sums[i]!]]))
    : ids.map((id, i) => row(id, table, models.map((m, j) => [m, sums[i * models.length + j]!])))
  return rows.filter(r => r.requests > 0).sort((a, b) => b.savedMicros - a.savedMicros || b.requests - a.requests)
}

/** The global ledger per time bucket (a chart series), priced model by model: one pipeline. */
export async function cacheTrend(redis: Redis, table: PriceTable, granularity: Granularity, buckets: string[]): Promise<(CacheRow & { bucket: string })[]> {
  const models = await redis.smembers(rk.usageModels())
  const pipe = redis.pipeline()
  if (models.length) for (const b of buckets) pipe.hmget(rk.usageBucket(granularity, b), ...models.map(dim.model))
  const rows = models.length ? (await pipe.exec()) ?? [] : []
  return buckets.map((bucket, i) => {
    const values = (rows[i]?.[1] ?? []) as (string | null)[]
    const byModel = models.map((m, j) => [m, unpack(values[j])] as [string, Counters])
    return { bucket, ...row(bucket, table, byModel) }
  })
}

/**
 * The all-time ledger per model for `/metrics`, labelled by the price table's id: a model the
 * table does not know is summed into `other`, so the label set stays bounded.
 */
export async function cacheByModelLabel(redis: Redis, table: PriceTable): Promise<CacheRow[]> {
  const models = await redis.smembers(rk.usageModels())
  const sums = await sumFields(redis, [rk.usageTotal()], models.map(dim.model))
  const groups = new Map<string, [string, Counters][]>()
  models.forEach((m, i) => {
    const label = table.resolve(m) ?? 'other'
    groups.set(label, [...(groups.get(label) ?? []), [m, sums[i]!]])
  })
  return [...groups].map(([label, byModel]) => row(label, table, byModel))
}
