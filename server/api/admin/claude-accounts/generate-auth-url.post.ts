import { generateAuthUrl } from '../../../oauth'

// Step 1 of adding a Claude subscription: a PKCE authorization URL for the admin to open.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { proxy } = await readValidatedBody(event, validate(GenerateAuthUrlSchema))
  const r = await generateAuthUrl(useRedis(), useConfig(), { provider: 'claude', proxy }).catch((err) => {
    throw asHttpError(err)
  })
  return { authUrl: r.authUrl, sessionId: r.sessionId, expiresAt: new Date(r.expiresAt).toISOString() }
})
