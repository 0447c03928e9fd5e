import type { IncomingMessage } from 'node:http'
import type { ClaudeAccount } from '../../accounts'
import { isSubscription } from '../../accounts/store'
import { headerAllowList, SSE_HEADERS } from '../../upstream/headers'

// What a client may tell Anthropic, and what Anthropic may tell the client. Never the client's
// relay key, cookies or accept-encoding (upstream answers identity so the tap can read it).
const requestHeaders = headerAllowList(
  ['accept', 'anthropic-beta', 'anthropic-version', 'anthropic-dangerous-direct-browser-access', 'content-type', 'user-agent', 'x-app'],
  ['x-stainless-'],
)
const responseHeaders = headerAllowList(['content-type', 'request-id', 'retry-after', 'x-should-retry'])

/** Statuses that may say something about the account rather than the request (read before relaying). */
export const ACCOUNT_STATUSES: ReadonlySet<number> = new Set([401, 403, 429, 500, 502, 503, 504, 529])

/** `{apiUrl}{path}`; an apiUrl that already ends in /v1/messages is taken as the base. Keeps `?beta=true`. */
export function upstreamUrl(apiUrl: string, path: string, clientUrl = ''): string {
  const base = apiUrl.replace(/\/+$/, '').replace(/\/v1\/messages$/, '')
  return base + path + (/[?&]beta=true(&|$)/.test(clientUrl) ? '?beta=true' : '')
}

/** The beta flag Anthropic requires for requests authorised by an OAuth (subscription) token. */
export const OAUTH_BETA = 'oauth-2025-04-20'

/** The client's betas plus `extra`, de-duplicated, order kept. */
function mergeBetas(client: string | undefined, extra: string): string {
  const all = (client ?? '').split(',').map(b => b.trim()).filter(Boolean)
  return [...new Set([...all, extra])].join(',')
}

/** How an account authorises itself to Anthropic: its OAuth or setup token (with the OAuth beta) or its API key. */
export function accountAuthHeaders(account: ClaudeAccount, clientBetas?: string): Record<string, string> {
  if (isSubscription(account) && account.oauth) {
    return { 'authorization': `Bearer ${account.oauth.accessToken}`, 'anthropic-beta': mergeBetas(clientBetas, OAUTH_BETA) }
  }
  const betas: Record<string, string> = clientBetas ? { 'anthropic-beta': clientBetas } : {}
  return account.apiKey.startsWith('sk-ant-') ? { ...betas, 'x-api-key': account.apiKey } : { ...betas, authorization: `Bearer ${account.apiKey}` }
}

/** The headers of an upstream call: the client's allowed ones, the account's credentials, plain bytes asked for. */
export function upstreamHeaders(req: IncomingMessage, account: ClaudeAccount, length: number): Record<string, string> {
  const h = requestHeaders(req.headers)
  h['content-type'] ??= 'application/json'
  h['anthropic-version'] ??= '2023-06-01'
  h['content-length'] = String(length)
  // Ask for plain bytes: the usage tap reads them, and we never relay a content-encoding.
  h['accept-encoding'] = 'identity'
  const betas = h['anthropic-beta']
  delete h['anthropic-beta']
  return Object.assign(h, accountAuthHeaders(account, betas))
}

/** Where an account's requests go: its own base URL, else CLAUDE_API_URL. */
export const baseUrl = (account: ClaudeAccount, fallback: string) => account.apiUrl || fallback

/** Response headers for the client: the allow-list, plus length/encoding (undici never decodes). */
export function clientHeaders(upHeaders: Record<string, string | string[] | undefined>, sse: boolean): Record<string, string> {
  const headers = responseHeaders(upHeaders)
  for (const name of ['content-length', 'content-encoding'] as const) {
    const v = upHeaders[name]
    if (typeof v === 'string') headers[name] = v
  }
  return sse ? Object.assign(headers, SSE_HEADERS) : headers
}
