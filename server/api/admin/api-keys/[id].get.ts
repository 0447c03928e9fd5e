export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  const key = await apiKeys.get(id)
  if (!key) throw createError({ statusCode: 404, message: `API key ${id} not found.` })
  return apiKeys.toView(key)
})
