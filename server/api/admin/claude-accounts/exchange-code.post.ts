import { oauthFromTokens } from '../../../accounts/oauth-refresh'
import { exchangeCode } from '../../../oauth'

// Step 2: the pasted code (bare, code#state or the callback URL) becomes an OAuth account.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { sessionId, code, proxy, ...fields } = await readValidatedBody(event, validate(ExchangeCodeSchema))
  const tokens = await exchangeCode(useRedis(), useConfig(), { sessionId, code, provider: 'claude' }).catch((err) => {
    throw asHttpError(err)
  })
  const account = await claudeAccounts.create({ ...fields, type: 'oauth', proxy: proxy === undefined ? tokens.proxy : proxy, oauth: oauthFromTokens(tokens) })
  setResponseStatus(event, 201)
  return claudeAccounts.toView(account)
})
