import { z } from 'zod'

const date = z.string().datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).transform(s => new Date(s))

// The stats endpoints share the range fields; each query is one object (so its fields document
// as query parameters) whose transform fills in the default range.
const rangeFields = {
  granularity: z.enum(['hour', 'day'], { error: 'granularity must be hour or day' }).default('day'),
  from: date.optional(),
  to: date.optional(),
}

/** A UTC range (default: the last 7 days, or 24 hours by the hour, up to now). */
function withRange<Q extends { granularity: 'hour' | 'day', from?: Date, to?: Date }>(q: Q): Q & { from: Date, to: Date } {
  const to = q.to ?? new Date()
  return { ...q, to, from: q.from ?? new Date(to.getTime() - (q.granularity === 'hour' ? 24 : 7 * 24) * 3_600_000) }
}

/** Query of a range-only stats endpoint (the cache-ledger trend). */
export const RangeQuerySchema = z.object(rangeFields).transform(withRange)

/** Query of the trend endpoint: all usage, or one key's, account's or model's. */
export const TrendQuerySchema = z.object({
  ...rangeFields,
  dimension: z.enum(['all', 'key', 'account', 'model']).default('all'),
  id: z.string().min(1).max(200).optional(),
}).refine(q => q.dimension === 'all' || q.id, { error: 'id is required for a key, account or model trend', path: ['id'] }).transform(withRange)

/** Query of the breakdown endpoint: usage per key, account or model. */
export const BreakdownQuerySchema = z.object({
  ...rangeFields,
  by: z.enum(['key', 'account', 'model'], { error: 'by must be key, account or model' }),
}).transform(withRange)

/** Query of the lost-requests list: how many of the newest to return (the store keeps 1,000). */
export const LostQuerySchema = z.object({
  limit: z.coerce.number().int().min(1, { error: 'limit must be 1 to 1000' }).max(1000, { error: 'limit must be 1 to 1000' }).default(100),
})

/** Days of per-day usage (a key's, on the admin key view and the client's own /api/v1/usage). */
export const UsageDaysQuerySchema = z.object({ days: z.coerce.number().int().min(1).max(90).default(7) })

/** The admin key view's query: days of usage and how many recent requests. */
export const KeyUsageQuerySchema = UsageDaysQuerySchema.extend({ recent: z.coerce.number().int().min(0).max(100).default(20) })

/** Query of the cache-ledger breakdown: per account or model, over a range or (without `from`) all time. */
export const CacheQuerySchema = z.object({
  by: z.enum(['account', 'model'], { error: 'by must be account or model' }),
  from: date.optional(),
  to: date.optional(),
})
