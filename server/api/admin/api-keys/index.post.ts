export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await readValidatedBody(event, validate(ApiKeyCreateSchema))
  const { record, apiKey } = await apiKeys.create(input)
  setResponseStatus(event, 201)
  // The plaintext key is returned this once; only its HMAC is stored.
  return { ...apiKeys.toView(record), apiKey }
})
