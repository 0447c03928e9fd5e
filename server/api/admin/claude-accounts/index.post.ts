export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { type: _type, ...input } = await readValidatedBody(event, validate(ClaudeAccountCreateSchema))
  const account = await claudeAccounts.create(input)
  setResponseStatus(event, 201)
  return claudeAccounts.toView(account)
})
