import { RangeQuerySchema } from '../../../admin/usage-schemas'
import { cacheTrend } from '../../../usage/cache-stats'
import { bucketRange } from '../../../usage/stats'

// The global prompt-cache ledger per hour or day (the dashboard's hit-rate and savings chart).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const q = await getValidatedQuery(event, validate(RangeQuerySchema))
  const buckets = bucketRange(q.granularity, q.from, q.to)
  return { granularity: q.granularity, series: await cacheTrend(useRedis(), await pricing.table(), q.granularity, buckets) }
})
