export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const keys = await apiKeys.list()
  return { items: keys.map(apiKeys.toView), total: keys.length }
})
