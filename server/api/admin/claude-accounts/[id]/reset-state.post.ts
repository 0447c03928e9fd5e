// Put an account back into the pool now (it was rate limited, overloaded, blocked, …).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  if (!await claudeAccounts.get(id)) throw createError({ statusCode: 404, message: `Claude account ${id} not found.` })
  await claudeAccounts.setState(id, null)
  return claudeAccounts.toView((await claudeAccounts.get(id))!)
})
