// Refresh an OAuth account's token now (through its proxy); the account's new expiry comes back.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  const account = await claudeAccounts.get(id)
  if (!account) throw createError({ statusCode: 404, message: `Claude account ${id} not found.` })
  if (account.type !== 'oauth') throw createError({ statusCode: 400, message: 'Only OAuth accounts have a token to refresh.' })
  await claudeAccounts.ensureFreshToken(account, { force: true }).catch((err) => {
    throw asHttpError(err)
  })
  return claudeAccounts.toView((await claudeAccounts.get(id))!)
})
