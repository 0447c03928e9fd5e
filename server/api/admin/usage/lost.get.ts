import { LostQuerySchema } from '../../../admin/usage-schemas'
import { readLost } from '../../../usage/lost'

// Requests admitted by an instance that died before recording them (issue 13 §6), newest first.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const q = await getValidatedQuery(event, validate(LostQuerySchema))
  return readLost(useRedis(), q.limit)
})
