import type { IncomingMessage, ServerResponse } from 'node:http'
import { request } from 'undici'
import { claudeAccounts, type ClaudeAccount, type DedicatedBinding } from '../../accounts'
import { stateFromFailure, stateFromResponse } from '../../accounts/state'
import type { SessionRef } from '../../accounts/sticky'
import { useConfig } from '../../config'
import { useLogger } from '../../logging'
import { ACCOUNT_FAILED, classifyUpstreamError } from '../../upstream/errors'
import { headerAllowList } from '../../upstream/headers'
import { type Outcome, pump, readBounded } from '../../upstream/stream'
import { sseErrorEvent } from './errors'
import { AnthropicError } from './handler'
import { confirmedByProbe } from './probe'
import { AnthropicUsageTap } from './usage'

// What a client may tell Anthropic, and what Anthropic may tell the client. Never the client's
// relay key, cookies or accept-encoding (upstream answers identity so the tap can read it).
const requestHeaders = headerAllowList(
  ['accept', 'anthropic-beta', 'anthropic-version', 'anthropic-dangerous-direct-browser-access', 'content-type', 'user-agent', 'x-app'],
  ['x-stainless-'],
)
const responseHeaders = headerAllowList(['content-type', 'request-id', 'retry-after', 'x-should-retry'])

/** Statuses that may say something about the account rather than the request (read before relaying). */
const ACCOUNT_STATUSES = new Set([401, 403, 429, 500, 502, 503, 504, 529])
const MAX_ERROR_BODY = 64 * 1024

export type { Outcome } from '../../upstream/stream'

/** How the request ended, for recording. */
export interface Finished {
  tap: AnthropicUsageTap | null
  outcome: Outcome
  status: number
  startedAt: Date
  account: ClaudeAccount
  attempts: number
  /** ms from the request's start to the response headers (null: none sent). */
  ttfbMs: number | null
  /** ms the attempts waited for an upstream connection (the pool fills it in: `waitReport`). */
  connectionWaitMs: number
}

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

/** How an account authorises itself to Anthropic: its OAuth token (with the OAuth beta) or its API key. */
export function accountAuthHeaders(account: ClaudeAccount, clientBetas?: string): Record<string, string> {
  if (account.type === 'oauth' && account.oauth) {
    return { 'authorization': `Bearer ${account.oauth.accessToken}`, 'anthropic-beta': mergeBetas(clientBetas, OAUTH_BETA) }
  }
  const betas: Record<string, string> = clientBetas ? { 'anthropic-beta': clientBetas } : {}
  return account.apiKey.startsWith('sk-ant-') ? { ...betas, 'x-api-key': account.apiKey } : { ...betas, authorization: `Bearer ${account.apiKey}` }
}

function upstreamHeaders(req: IncomingMessage, account: ClaudeAccount, length: number): Record<string, string> {
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
function clientHeaders(upHeaders: Record<string, string | string[] | undefined>, sse: boolean): Record<string, string> {
  const headers = responseHeaders(upHeaders)
  for (const name of ['content-length', 'content-encoding'] as const) {
    const v = upHeaders[name]
    if (typeof v === 'string') headers[name] = v
  }
  if (sse) {
    headers['cache-control'] = 'no-cache, no-transform'
    headers['x-accel-buffering'] = 'no'
  }
  return headers
}

interface Buffered { status: number, headers: Record<string, string>, body: Buffer }

/**
 * Forward to `first`, failing over while nothing has reached the client: a 429/529/5xx/401, an
 * organization-disabled 403, a connection error or a timeout marks the account (rate limited,
 * overloaded, cooldown, error, blocked) and the next account is tried, up to MAX_RETRIES accounts;
 * then the last error is answered. A key's dedicated account falls back to the shared pool only when
 * the key's `dedicatedFallback` allows it.
 */
export interface ForwardRequest {
  key: DedicatedBinding
  /** The conversation, for sticky routing (null: none). */
  session: SessionRef | null
  first: ClaudeAccount
  raw: Buffer
  path: string
  record: boolean
}

export async function forwardWithFailover(req: IncomingMessage, res: ServerResponse, f: ForwardRequest, done: Finished): Promise<void> {
  const { key, session, first, raw, path, record } = f
  const cfg = useConfig()
  const ac = new AbortController()
  res.once('close', () => {
    // Once a tapped body is being relayed, pump() closes it (after reading on for the usage).
    if (!res.writableFinished && !(res.headersSent && done.tap)) ac.abort()
  })
  const tried = new Set<string>()
  let account: ClaudeAccount | null = first
  let last: Buffered | AnthropicError | null = null
  let refreshedAfter401 = false
  while (account && tried.size < Math.max(1, cfg.relay.maxRetries)) {
    tried.add(account.id)
    done.account = account
    done.attempts = tried.size
    try {
      await claudeAccounts.ensureFreshToken(account)
    }
    catch {
      // The account is marked `error` by the refresh (its log says why); try the next one.
      last = new AnthropicError(502, 'api_error', ACCOUNT_FAILED.refresh)
      account = await claudeAccounts.pickFor(key, tried, session)
      continue
    }
    let up: Awaited<ReturnType<typeof request>>
    const sentAt = performance.now()
    try {
      up = await request(upstreamUrl(baseUrl(account, cfg.claude.apiUrl), path, req.url), {
        method: 'POST', headers: upstreamHeaders(req, account, raw.length), body: raw, signal: ac.signal,
        dispatcher: claudeAccounts.dispatcherFor(account), headersTimeout: cfg.relay.timeoutMs, bodyTimeout: cfg.relay.timeoutMs,
        waitReport: done,
      } as Parameters<typeof request>[1])
    }
    catch (err) {
      if (ac.signal.aborted) return
      claudeAccounts.recordAttempt(account.id, false, performance.now() - sentAt)
      const f = classifyUpstreamError(err, account.proxy)
      useLogger().warn({ accountId: account.id, reason: f.detail }, 'upstream failure, trying another account')
      await claudeAccounts.setState(account.id, stateFromFailure(f.detail, cfg.accountStates))
      last = new AnthropicError(f.status, f.status === 504 ? 'timeout_error' : 'api_error', f.message)
      Object.assign(done, { outcome: 'failed', status: f.status })
      account = await claudeAccounts.pickFor(key, tried, session)
      continue
    }
    done.status = up.statusCode
    claudeAccounts.recordAttempt(account.id, up.statusCode < 500 && up.statusCode !== 429, performance.now() - sentAt)
    claudeAccounts.noteWindow(account, up.headers)
    if (up.statusCode === 401 && account.type === 'oauth' && !refreshedAfter401) {
      // The token may have been revoked or rotated elsewhere: refresh once and retry this account.
      await readBounded(up.body, MAX_ERROR_BODY)
      refreshedAfter401 = true
      try {
        await claudeAccounts.ensureFreshToken(account, { force: true })
        tried.delete(account.id)
        continue
      }
      catch {
        last = new AnthropicError(502, 'api_error', ACCOUNT_FAILED.refresh)
        account = await claudeAccounts.pickFor(key, tried, session)
        continue
      }
    }
    if (ACCOUNT_STATUSES.has(up.statusCode)) {
      const body = await readBounded(up.body, MAX_ERROR_BODY)
      const buffered = { status: up.statusCode, headers: clientHeaders(up.headers, false), body }
      // A 401/403 may be about this request alone (a header or body a key holder chose): the
      // account leaves the pool for good only when a request of the relay's own is refused too.
      const state = up.statusCode === 401 || up.statusCode === 403
        ? await confirmedByProbe(account, up.statusCode, body)
        : stateFromResponse(up.statusCode, up.headers, body.toString('utf8'), cfg.accountStates)
      if (!state) return sendBuffered(res, buffered, done)
      useLogger().warn({ accountId: account.id, state: state.state, status: up.statusCode }, 'account marked, trying another account')
      await claudeAccounts.setState(account.id, state)
      last = buffered
      done.outcome = 'failed'
      account = await claudeAccounts.pickFor(key, tried, session)
      continue
    }
    const sse = String(up.headers['content-type'] ?? '').startsWith('text/event-stream')
    const ok = up.statusCode >= 200 && up.statusCode < 300
    // The conversation stays with the account that answered it (and moves with a failover).
    if (ok) claudeAccounts.bindSession(session, account.id)
    done.tap = record && ok ? new AnthropicUsageTap(sse) : null
    done.ttfbMs = Date.now() - done.startedAt.getTime()
    res.writeHead(up.statusCode, clientHeaders(up.headers, sse))
    if (sse) res.flushHeaders()
    // The upstream broke mid-body: tell an SSE client the way Anthropic does; cut others off.
    done.outcome = await pump(up.body, res, done.tap, sse ? () => res.end(sseErrorEvent('api_error', 'Upstream connection was lost mid-stream.')) : null)
    return
  }
  if (last instanceof AnthropicError) throw last
  if (last) sendBuffered(res, { ...last, headers: { ...last.headers, 'x-relay-attempts': String(tried.size) } }, done)
}

function sendBuffered(res: ServerResponse, b: Buffered, done: Finished): void {
  b.headers['content-length'] = String(b.body.length)
  done.ttfbMs = Date.now() - done.startedAt.getTime()
  res.writeHead(b.status, b.headers)
  res.end(b.body)
  done.outcome = 'done'
}
