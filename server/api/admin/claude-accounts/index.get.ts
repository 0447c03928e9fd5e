export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const accounts = await claudeAccounts.list()
  return { items: accounts.map(claudeAccounts.toView), total: accounts.length }
})
