export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, IdParamsSchema.parse)
  const patch = await readValidatedBody(event, ApiKeyUpdateSchema.parse)
  const key = await apiKeys.update(id, patch)
  if (!key) throw createError({ statusCode: 404, message: `API key ${id} not found.` })
  return apiKeys.toView(key)
})
