export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  if (!await claudeAccounts.remove(id)) throw createError({ statusCode: 404, message: `Claude account ${id} not found.` })
  return { ok: true }
})
