import { CacheQuerySchema } from '../../../admin/usage-schemas'
import { rk } from '../../../store/keys'
import { cacheBreakdown } from '../../../usage/cache-stats'
import { coveringBuckets } from '../../../usage/stats'

// The prompt-cache ledger per account or model: all time, or over `from`..`to` (UTC days).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const q = await getValidatedQuery(event, validate(CacheQuerySchema))
  const redis = useRedis()
  const buckets = q.from ? coveringBuckets(q.from, q.to ?? new Date()) : [rk.usageTotal()]
  const ids = q.by === 'model'
    ? await redis.smembers(rk.usageModels())
    : (await Promise.all([claudeAccounts.list(), geminiAccounts.list()])).flat().map(a => a.id)
  return { by: q.by, from: q.from?.toISOString() ?? null, to: q.from ? (q.to ?? new Date()).toISOString() : null, items: await cacheBreakdown(redis, await pricing.table(), q.by, buckets, ids) }
})
