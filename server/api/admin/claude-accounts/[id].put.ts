export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  const patch = await readValidatedBody(event, validate(ClaudeAccountUpdateSchema))
  const account = await claudeAccounts.update(id, patch)
  if (!account) throw createError({ statusCode: 404, message: `Claude account ${id} not found.` })
  return claudeAccounts.toView(account)
})
