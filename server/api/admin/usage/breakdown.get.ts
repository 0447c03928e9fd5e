import { BreakdownQuerySchema } from '../../../admin/usage-schemas'
import { usageBreakdown } from '../../../usage/breakdown'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const q = await getValidatedQuery(event, validate(BreakdownQuerySchema))
  return { by: q.by, from: q.from.toISOString(), to: q.to.toISOString(), items: await usageBreakdown(q.by, q.granularity, q.from, q.to) }
})
