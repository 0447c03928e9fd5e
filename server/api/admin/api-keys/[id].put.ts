export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  const patch = await readValidatedBody(event, validate(ApiKeyUpdateSchema))
  const key = await apiKeys.update(id, patch)
  if (!key) throw createError({ statusCode: 404, message: `API key ${id} not found.` })
  return apiKeys.toView(key)
})
