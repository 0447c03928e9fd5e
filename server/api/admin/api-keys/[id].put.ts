export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  const patch = await readValidatedBody(event, validate(ApiKeyUpdateSchema))
  const current = await apiKeys.get(id)
  if (!current) throw createError({ statusCode: 404, message: `API key ${id} not found.` })
  // The same rule as on create, over the settings the key will have: a window limit needs a window.
  const next = { ...current, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) }
  if ((next.rateLimitRequests || next.rateLimitTokens || next.rateLimitCost) && !next.rateLimitWindow) {
    throw invalidFields([{ field: 'rateLimitWindow', message: 'rateLimitWindow (minutes) is required when a window limit is set' }])
  }
  const key = await apiKeys.update(id, patch)
  if (!key) throw createError({ statusCode: 404, message: `API key ${id} not found.` })
  return apiKeys.toView(key)
})
