import { oauthFromTokens } from '../../../accounts/oauth-refresh'

// type "console": an Anthropic API key; type "oauth": imported subscription tokens (refreshed on first use if needed).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const input = await readValidatedBody(event, validate(ClaudeAccountCreateSchema))
  const account = input.type === 'console'
    ? await claudeAccounts.create(input)
    : await claudeAccounts.create({
        name: input.name, description: input.description, priority: input.priority, isActive: input.isActive, proxy: input.proxy,
        type: 'oauth', apiUrl: input.apiUrl,
        oauth: oauthFromTokens({ accessToken: input.accessToken ?? '', refreshToken: input.refreshToken, expiresAt: input.accessToken ? (input.expiresAt ?? 0) : 0, scopes: input.scopes ?? [] }),
      })
  setResponseStatus(event, 201)
  return claudeAccounts.toView(account)
})
