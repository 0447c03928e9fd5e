import { PricingListQuerySchema } from '../../../admin/pricing-schemas'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { q } = await getValidatedQuery(event, validate(PricingListQuerySchema))
  return pricing.list(q)
})
