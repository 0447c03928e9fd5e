export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  if (!await apiKeys.remove(id)) throw createError({ statusCode: 404, message: `API key ${id} not found.` })
  return { ok: true }
})
