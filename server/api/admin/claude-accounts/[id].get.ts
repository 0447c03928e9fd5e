export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  const account = await claudeAccounts.get(id)
  if (!account) throw createError({ statusCode: 404, message: `Claude account ${id} not found.` })
  return claudeAccounts.toView(account)
})
