import type { Config } from '../config'

export type ProviderId = 'claude' | 'google'

/** One OAuth provider, everything taken from config (CLAUDE_OAUTH_*, GOOGLE_OAUTH_* / GEMINI_OAUTH_*). */
export interface OAuthProvider {
  id: ProviderId
  authorizeUrl: string
  tokenUrl: string
  clientId: string
  /** Google's installed-app client has a (public) secret; Claude's client has none. */
  clientSecret?: string
  redirectUri: string
  scopes: readonly string[]
  /** Claude's token endpoint takes JSON; Google's takes application/x-www-form-urlencoded. */
  tokenRequestEncoding: 'json' | 'form'
  /** Provider-specific authorize parameters, placed before the standard ones. */
  extraAuthorizeParams: Readonly<Record<string, string>>
}

/** The config sections providers are built from (the whole Config fits). */
export type OAuthConfig = Pick<Config, 'claude' | 'gemini'> & Partial<Pick<Config, 'upstreamCaFile'>>

/**
 * Scopes for Gemini accounts: Code Assist needs cloud-platform, the e-mail and profile name the
 * account in the admin UI. Gemini CLI asks for exactly these; there is no env variable for them.
 */
export const GOOGLE_SCOPES = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/userinfo.email',
  'https://www.googleapis.com/auth/userinfo.profile',
] as const

const built = new WeakMap<OAuthConfig, Readonly<Record<ProviderId, OAuthProvider>>>()

/** Both providers for a config; built once per config object (config is read once per process). */
export function oauthProviders(cfg: OAuthConfig): Readonly<Record<ProviderId, OAuthProvider>> {
  let providers = built.get(cfg)
  if (!providers) {
    const c = cfg.claude.oauth
    const g = cfg.gemini.oauth
    providers = Object.freeze({
      claude: Object.freeze({
        id: 'claude',
        authorizeUrl: c.authorizeUrl,
        tokenUrl: c.tokenUrl,
        clientId: c.clientId,
        redirectUri: c.redirectUri,
        scopes: Object.freeze(c.scopes.split(/[\s,]+/).filter(Boolean)),
        tokenRequestEncoding: 'json',
        // Claude's authorize page shows the code (as `code#state`) instead of redirecting to us.
        extraAuthorizeParams: Object.freeze({ code: 'true' }),
      }),
      google: Object.freeze({
        id: 'google',
        authorizeUrl: g.authorizeUrl,
        tokenUrl: g.tokenUrl,
        clientId: g.clientId,
        clientSecret: g.clientSecret,
        redirectUri: g.redirectUri,
        scopes: GOOGLE_SCOPES,
        tokenRequestEncoding: 'form',
        // offline → a refresh token; consent → Google issues one even if the user consented before.
        extraAuthorizeParams: Object.freeze({ access_type: 'offline', prompt: 'consent' }),
      }),
    } satisfies Record<ProviderId, OAuthProvider>)
    built.set(cfg, providers)
  }
  return providers
}

/** One provider by id (throws for an unknown id, which only a programming error can produce). */
export function getProvider(cfg: OAuthConfig, id: ProviderId): OAuthProvider {
  const p = oauthProviders(cfg)[id]
  if (!p) throw new Error(`unknown OAuth provider: ${String(id)}`)
  return p
}

/** The authorize URL the admin opens: PKCE S256 challenge, state, scopes, client, redirect. */
export function buildAuthorizeUrl(p: OAuthProvider, challenge: string, state: string): string {
  const u = new URL(p.authorizeUrl)
  const params = {
    ...p.extraAuthorizeParams,
    client_id: p.clientId,
    response_type: 'code',
    redirect_uri: p.redirectUri,
    scope: p.scopes.join(' '),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  }
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
  return u.toString()
}
