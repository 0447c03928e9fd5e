import { PriceOverrideSchema, PricingModelParamsSchema } from '../../../admin/pricing-schemas'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  // decode: a model id may arrive with its `/` escaped (anthropic%2F…) or not.
  const { model } = await getValidatedRouterParams(event, validate(PricingModelParamsSchema), { decode: true })
  const fields = await readValidatedBody(event, validate(PriceOverrideSchema))
  return pricing.setOverride(model, fields)
})
