import type Redis from 'ioredis'
import type { Config } from '../config'
import { safeEqual } from '../crypto'
import { parseProxyUrl } from '../upstream/proxy-url'
import { parseCodeInput } from './code-input'
import { OAuthError } from './errors'
import { createPkce, createState } from './pkce'
import { buildAuthorizeUrl, getProvider, type OAuthConfig, type ProviderId } from './providers'
import { createSession, restoreSession, takeSession } from './sessions'
import { codeGrant, type OAuthTokens, refreshGrant } from './tokens'

export { OAuthError, type OAuthErrorKind } from './errors'
export { parseCodeInput, type CodeInput } from './code-input'
export { GOOGLE_SCOPES, getProvider, oauthProviders, type OAuthProvider, type ProviderId } from './providers'
export { SESSION_TTL_MS } from './sessions'
export { TOKEN_REQUEST_TIMEOUT_MS, type OAuthTokens } from './tokens'
export { createSingleFlight, refreshOnce, type RefreshOnceOptions, type SingleFlight } from './single-flight'

/** What the OAuth engine reads from config: the providers and the encryption key for sessions. */
export type OAuthEngineConfig = OAuthConfig & Pick<Config, 'secrets'>

export interface AuthUrlResult {
  authUrl: string
  sessionId: string
  /** ms epoch: exchange the code before this. */
  expiresAt: number
}

/**
 * Start an authorization: a PKCE pair and state, kept (encrypted) in `oauth_session:{id}` for
 * 10 minutes together with the provider and the proxy the exchange must go through.
 */
export async function generateAuthUrl(redis: Redis, cfg: OAuthEngineConfig, input: { provider: ProviderId, proxy?: string | null }): Promise<AuthUrlResult> {
  const provider = getProvider(cfg, input.provider)
  const proxy = input.proxy || null
  if (proxy) {
    try {
      parseProxyUrl(proxy)
    }
    catch (err) {
      throw new OAuthError('bad_input', (err as Error).message)
    }
  }
  const pkce = createPkce()
  const session = await createSession(redis, cfg.secrets.encryptionKey, { provider: provider.id, verifier: pkce.verifier, state: createState(), proxy })
  return { authUrl: buildAuthorizeUrl(provider, pkce.challenge, session.state), sessionId: session.id, expiresAt: session.expiresAt }
}

/**
 * Finish an authorization: parse the pasted code (bare, `code#state`, or the callback URL),
 * check its state, and exchange it through the session's proxy. The session is taken while
 * the exchange runs (a parallel exchange finds none), deleted for good on success, and put back
 * until its original expiry on any failure so the admin can paste another code.
 * `provider`, when given, must match the session's (a Claude route cannot finish a Google session).
 */
export async function exchangeCode(redis: Redis, cfg: OAuthEngineConfig, input: { sessionId: string, code: string, provider?: ProviderId }): Promise<OAuthTokens & { proxy: string | null }> {
  const parsed = parseCodeInput(input.code)
  const encKey = cfg.secrets.encryptionKey
  const session = await takeSession(redis, encKey, input.sessionId)
  try {
    if (input.provider && input.provider !== session.provider) {
      throw new OAuthError('bad_input', `This OAuth session was started for ${session.provider}, not ${input.provider}.`)
    }
    if (parsed.state !== undefined && !safeEqual(parsed.state, session.state)) {
      throw new OAuthError('bad_state', 'The pasted code comes from another authorization (state mismatch): paste the code shown after opening this session\'s URL.')
    }
    // The session's proxy comes back too: the new account should keep using it.
    const tokens = await codeGrant(getProvider(cfg, session.provider), { code: parsed.code, verifier: session.verifier, state: session.state, proxy: session.proxy, caFile: cfg.upstreamCaFile })
    return { ...tokens, proxy: session.proxy }
  }
  catch (err) {
    await restoreSession(redis, encKey, session).catch(() => { /* then it is simply gone */ })
    throw err
  }
}

/**
 * Refresh an account's access token through its proxy (no lock: wrap it in `refreshOnce`).
 * A response without a refresh token keeps `refreshToken`; `invalid_grant` means re-authorize.
 */
export function refreshAccessToken(cfg: OAuthConfig, input: { provider: ProviderId, refreshToken: string, proxy: string | null, timeoutMs?: number }): Promise<OAuthTokens> {
  return refreshGrant(getProvider(cfg, input.provider), { ...input, caFile: cfg.upstreamCaFile })
}
