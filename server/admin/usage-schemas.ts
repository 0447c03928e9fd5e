import { z } from 'zod'

const date = z.string().datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).transform(s => new Date(s))

/** Query of the stats endpoints: a UTC range (default: the last 7 days up to now). */
export const RangeQuerySchema = z.object({
  granularity: z.enum(['hour', 'day'], { error: 'granularity must be hour or day' }).default('day'),
  from: date.optional(),
  to: date.optional(),
}).transform(q => ({
  granularity: q.granularity,
  to: q.to ?? new Date(),
  from: q.from ?? new Date((q.to ?? new Date()).getTime() - (q.granularity === 'hour' ? 24 : 7 * 24) * 3_600_000),
}))

export const TrendQuerySchema = z.intersection(RangeQuerySchema, z.object({
  dimension: z.enum(['all', 'key', 'account', 'model']).default('all'),
  id: z.string().min(1).max(200).optional(),
}).refine(q => q.dimension === 'all' || q.id, { error: 'id is required for a key, account or model trend', path: ['id'] }))

export const BreakdownQuerySchema = z.intersection(RangeQuerySchema, z.object({
  by: z.enum(['key', 'account', 'model'], { error: 'by must be key, account or model' }),
}))

/** Query of the lost-requests list: how many of the newest to return (the store keeps 1,000). */
export const LostQuerySchema = z.object({
  limit: z.coerce.number().int().min(1, { error: 'limit must be 1 to 1000' }).max(1000, { error: 'limit must be 1 to 1000' }).default(100),
})

/** Query of the cache-ledger breakdown: per account or model, over a range or (without `from`) all time. */
export const CacheQuerySchema = z.object({
  by: z.enum(['account', 'model'], { error: 'by must be account or model' }),
  from: date.optional(),
  to: date.optional(),
})
