import { TrendQuerySchema } from '../../../admin/usage-schemas'
import { dim } from '../../../usage/buckets'
import { bucketRange, trend } from '../../../usage/stats'

const FIELD = { all: () => dim.all, key: dim.key, account: dim.account, model: dim.model } as const

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const q = await getValidatedQuery(event, validate(TrendQuerySchema))
  const buckets = bucketRange(q.granularity, q.from, q.to)
  return { granularity: q.granularity, dimension: q.dimension, id: q.id ?? null, series: await trend(useRedis(), q.granularity, buckets, FIELD[q.dimension](q.id ?? '')) }
})
