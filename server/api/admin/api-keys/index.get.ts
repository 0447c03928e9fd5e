export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const query = await getValidatedQuery(event, validate(ApiKeyListQuerySchema))
  const { items, total } = await apiKeys.list(query)
  return { items: items.map(apiKeys.toView), total, offset: query.offset, limit: query.limit }
})
