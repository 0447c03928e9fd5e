import { type Dispatcher, request } from 'undici'
import { createDispatcher } from '../upstream/dispatchers'
import { classifyUpstreamError } from '../upstream/errors'
import { OAuthError, scrub } from './errors'
import type { OAuthProvider } from './providers'

/** Tokens from a code exchange or a refresh. */
export interface OAuthTokens {
  accessToken: string
  refreshToken: string
  /** ms since the epoch. */
  expiresAt: number
  scopes: string[]
  account?: { id?: string, email?: string }
  organization?: { id?: string, name?: string }
}

/**
 * Whole-request limit for a token call. Kept below the refresh lock's 30 s TTL so a lock holder
 * always finishes (or gives up) before another instance could take the lock over.
 */
export const TOKEN_REQUEST_TIMEOUT_MS = 15_000
const MAX_RESPONSE_BYTES = 256 * 1024
const DEFAULT_EXPIRES_IN_S = 3600

export interface TokenCallOptions {
  /** The account's proxy URL (null: direct). */
  proxy: string | null
  /** Extra CA trusted for the token endpoint's TLS (UPSTREAM_CA_FILE). */
  caFile?: string | null
  timeoutMs?: number
}

/** Exchange an authorization code (with its PKCE verifier) for tokens, through the proxy. */
export async function codeGrant(p: OAuthProvider, input: TokenCallOptions & { code: string, verifier: string, state: string }): Promise<OAuthTokens> {
  const { code, verifier, state } = input
  const fields: Record<string, string> = p.tokenRequestEncoding === 'json'
    ? { grant_type: 'authorization_code', client_id: p.clientId, code, redirect_uri: p.redirectUri, code_verifier: verifier, state }
    : { code, client_id: p.clientId, ...secretOf(p), redirect_uri: p.redirectUri, grant_type: 'authorization_code', code_verifier: verifier }
  const json = await postToken(p, fields, input, [code, verifier, state])
  const tokens = toTokens(p, json, undefined)
  if (!tokens.refreshToken) {
    throw new OAuthError('upstream', `${label(p)} issued no refresh token, so the account could not be kept signed in. Revoke the app's access in the account settings and authorize again.`, 200)
  }
  return tokens
}

/** Refresh an access token; a response without refresh_token keeps the old one. */
export async function refreshGrant(p: OAuthProvider, input: TokenCallOptions & { refreshToken: string }): Promise<OAuthTokens> {
  const fields: Record<string, string> = p.tokenRequestEncoding === 'json'
    ? { grant_type: 'refresh_token', refresh_token: input.refreshToken, client_id: p.clientId }
    : { grant_type: 'refresh_token', refresh_token: input.refreshToken, client_id: p.clientId, ...secretOf(p) }
  const json = await postToken(p, fields, input, [input.refreshToken])
  return toTokens(p, json, input.refreshToken)
}

const label = (p: OAuthProvider) => (p.id === 'claude' ? 'Claude' : 'Google')
const secretOf = (p: OAuthProvider): Record<string, string> => (p.clientSecret ? { client_secret: p.clientSecret } : {})

type Json = Record<string, unknown>

/** POST to the token endpoint on a one-off dispatcher (closed afterwards); the parsed 2xx JSON or an OAuthError. */
async function postToken(p: OAuthProvider, fields: Record<string, string>, opts: TokenCallOptions, secrets: string[]): Promise<Json> {
  let dispatcher: Dispatcher
  try {
    dispatcher = createDispatcher(opts.proxy, opts.caFile ?? null)
  }
  catch (err) {
    // parseProxyUrl's messages describe the problem without repeating the URL.
    throw new OAuthError('proxy', `The account's proxy is not usable: ${(err as Error).message}`)
  }
  const timeoutMs = opts.timeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS
  const signal = AbortSignal.timeout(timeoutMs)
  const json = p.tokenRequestEncoding === 'json'
  try {
    const res = await request(p.tokenUrl, {
      method: 'POST',
      dispatcher,
      signal,
      headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded', 'accept': 'application/json' },
      body: json ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
    })
    return interpret(p, res.statusCode, await readLimited(res.body), [...secrets, p.clientSecret])
  }
  catch (err) {
    if (err instanceof OAuthError) throw err
    if (signal.aborted) throw new OAuthError('upstream', `${label(p)} token endpoint did not answer within ${Math.round(timeoutMs / 1000)} s.`)
    const failure = classifyUpstreamError(err, opts.proxy)
    if (failure.proxyFault) throw new OAuthError('proxy', failure.detail)
    throw new OAuthError('upstream', `${label(p)} token endpoint unreachable: ${failure.detail}`)
  }
  finally {
    void dispatcher.destroy().catch(() => {})
  }
}

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy()
      throw new OAuthError('upstream', `token endpoint answered with more than ${MAX_RESPONSE_BYTES} bytes.`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A 2xx JSON body with an access token, or the matching OAuthError. */
function interpret(p: OAuthProvider, status: number, text: string, secrets: (string | undefined)[]): Json {
  let body: unknown = null
  try {
    body = JSON.parse(text)
  }
  catch { /* non-JSON: handled below */ }
  const obj = body && typeof body === 'object' ? body as Json : null
  if (status >= 200 && status < 300) {
    if (typeof obj?.access_token === 'string' && obj.access_token) return obj
    throw new OAuthError('upstream', `${label(p)} token endpoint answered ${status} without an access token.`, status)
  }
  // OAuth's {error, error_description}, or Anthropic's {type:'error', error:{type, message}}.
  const e = obj?.error
  const code = typeof e === 'string' ? e : typeof (e as Json | undefined)?.type === 'string' ? (e as Json).type as string : ''
  const rawDescription = typeof obj?.error_description === 'string' ? obj.error_description : typeof (e as Json | undefined)?.message === 'string' ? (e as Json).message as string : ''
  const description = scrub(rawDescription, secrets).replace(/[^\x20-\x7e\u00a0-\uffff]/g, ' ').slice(0, 200)
  const detail = [/^[\w.-]{1,64}$/.test(code) ? code : '', description].filter(Boolean).join(': ')
  if (code === 'invalid_grant') {
    throw new OAuthError('invalid_grant', `${label(p)} refused the grant (${detail}): the code or refresh token is invalid, expired or revoked.`, status)
  }
  throw new OAuthError('upstream', `${label(p)} token endpoint answered ${status}${detail ? ` (${detail})` : ''}.`, status)
}

function toTokens(p: OAuthProvider, j: Json, previousRefreshToken: string | undefined): OAuthTokens {
  const expiresIn = Number(j.expires_in)
  const tokens: OAuthTokens = {
    accessToken: j.access_token as string,
    refreshToken: typeof j.refresh_token === 'string' && j.refresh_token ? j.refresh_token : previousRefreshToken ?? '',
    expiresAt: Date.now() + (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_EXPIRES_IN_S) * 1000,
    scopes: typeof j.scope === 'string' ? j.scope.split(/\s+/).filter(Boolean) : [...p.scopes],
  }
  const account = p.id === 'claude' ? claudeAccount(j) : googleAccount(j)
  if (account) tokens.account = account
  const org = j.organization as Json | undefined
  const organization = compact({ id: str(org?.uuid), name: str(org?.name) })
  if (organization) tokens.organization = organization
  return tokens
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined)

/** The object without undefined fields, or undefined when nothing is left. */
function compact<T extends Record<string, string | undefined>>(o: T): Partial<T> | undefined {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
  return Object.keys(out).length ? out : undefined
}

function claudeAccount(j: Json) {
  const a = j.account as Json | undefined
  return compact({ id: str(a?.uuid), email: str(a?.email_address) })
}

/** Subject and e-mail from Google's id_token (read, not verified: it came straight from Google over TLS). */
function googleAccount(j: Json) {
  const idToken = str(j.id_token)
  if (!idToken) return undefined
  try {
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as Json
    return compact({ id: str(claims.sub), email: str(claims.email) })
  }
  catch {
    return undefined
  }
}
