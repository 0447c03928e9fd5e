import { PricingModelParamsSchema } from '../../../admin/pricing-schemas'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { model } = await getValidatedRouterParams(event, validate(PricingModelParamsSchema), { decode: true })
  if (!await pricing.removeOverride(model)) throw createError({ statusCode: 404, message: `${model} has no price override.` })
  return { ok: true }
})
