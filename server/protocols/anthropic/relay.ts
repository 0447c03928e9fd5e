import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { H3Event } from 'h3'
import { request } from 'undici'
import { claudeAccounts, type ClaudeAccount } from '../../accounts'
import { useConfig } from '../../config'
import { apiKeys, keyRejection, type ApiKeyRecord } from '../../keys'
import { checkAccess } from '../../keys/access'
import { type Admission, admit, isDenial, keepLease } from '../../keys/admission'
import { extractApiKey } from '../../keys/extract'
import { useLogger } from '../../logging'
import { useRedis } from '../../store/redis'
import { BodyTooLargeError, readBodyLimited } from '../../upstream/body'
import { dispatcherFor } from '../../upstream/dispatchers'
import { classifyUpstreamError } from '../../upstream/errors'
import { headerAllowList } from '../../upstream/headers'
import { pricing } from '../../usage/pricing-store'
import { recordUsage } from '../../usage/record'
import { emptyUsage } from '../../usage/types'
import { sseErrorEvent } from './errors'
import { AnthropicError } from './handler'
import { AnthropicUsageTap } from './usage'

// What a client may tell Anthropic, and what Anthropic may tell the client. Never the client's
// relay key, cookies or accept-encoding (upstream answers identity so the tap can read it).
const requestHeaders = headerAllowList(
  ['accept', 'anthropic-beta', 'anthropic-version', 'anthropic-dangerous-direct-browser-access', 'content-type', 'user-agent', 'x-app'],
  ['x-stainless-'],
)
const responseHeaders = headerAllowList(['content-type', 'request-id', 'retry-after', 'x-should-retry'])

/** Authenticate the calling key (cached lookup); throws a 401 in Anthropic's shape. */
export async function requireClientKey(req: IncomingMessage): Promise<ApiKeyRecord> {
  const raw = extractApiKey(req.headers, req.url)
  if (!raw) throw new AnthropicError(401, 'authentication_error', 'Missing API key: send your cr_ key as x-api-key or Authorization: Bearer.')
  const key = await apiKeys.lookup(raw)
  const why = keyRejection(key)
  if (why) throw new AnthropicError(401, 'authentication_error', `${why}.`)
  return key!
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<{ raw: Buffer, json: Record<string, unknown> }> {
  let raw: Buffer
  try {
    raw = await readBodyLimited(req, limit)
  }
  catch (err) {
    if (err instanceof BodyTooLargeError) throw new AnthropicError(413, 'request_too_large', err.message, { connection: 'close' })
    throw new AnthropicError(400, 'invalid_request_error', 'Could not read the request body.')
  }
  let json: unknown
  try {
    json = JSON.parse(raw.toString('utf8'))
  }
  catch {
    throw new AnthropicError(400, 'invalid_request_error', 'Request body is not valid JSON.')
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new AnthropicError(400, 'invalid_request_error', 'Request body must be a JSON object.')
  return { raw, json: json as Record<string, unknown> }
}

/** `{apiUrl}{path}`; an apiUrl that already ends in /v1/messages is taken as the base. Keeps `?beta=true`. */
export function upstreamUrl(apiUrl: string, path: string, clientUrl = ''): string {
  const base = apiUrl.replace(/\/+$/, '').replace(/\/v1\/messages$/, '')
  return base + path + (/[?&]beta=true(&|$)/.test(clientUrl) ? '?beta=true' : '')
}

function upstreamHeaders(req: IncomingMessage, account: ClaudeAccount, length: number): Record<string, string> {
  const h = requestHeaders(req.headers)
  h['content-type'] ??= 'application/json'
  h['anthropic-version'] ??= '2023-06-01'
  h['content-length'] = String(length)
  // Ask for plain bytes: the usage tap reads them, and we never relay a content-encoding.
  h['accept-encoding'] = 'identity'
  if (account.apiKey.startsWith('sk-ant-')) h['x-api-key'] = account.apiKey
  else h.authorization = `Bearer ${account.apiKey}`
  return h
}

type Outcome = 'done' | 'aborted' | 'failed'

/** Copy upstream bytes to the client as they come, feeding the tap; honours back-pressure. */
function pump(src: Readable, res: ServerResponse, tap: AnthropicUsageTap | null, sse: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false
    const finish = (o: Outcome) => {
      if (settled) return
      settled = true
      tap?.end()
      resolve(o)
    }
    src.on('data', (chunk: Buffer) => {
      tap?.push(chunk)
      if (!res.write(chunk)) src.pause()
    })
    res.on('drain', () => src.resume())
    src.once('end', () => {
      res.end()
      finish('done')
    })
    src.once('error', () => {
      if (res.writableEnded || res.destroyed) return finish('aborted')
      // The upstream broke mid-body: tell an SSE client the way Anthropic does; cut others off.
      if (sse) res.end(sseErrorEvent('api_error', 'Upstream connection was lost mid-stream.'))
      else res.destroy()
      finish('failed')
    })
    res.once('close', () => {
      if (res.writableFinished) return
      src.destroy()
      finish('aborted')
    })
  })
}

export interface RelayOptions {
  /** Upstream path: /v1/messages or /v1/messages/count_tokens. */
  path: string
  /** Count tokens and requests for this route. */
  record: boolean
}

/** Relay one Claude Messages-API request: auth → access → account → admission → forward → stream back → record. */
export async function relayAnthropic(event: H3Event, opts: RelayOptions): Promise<void> {
  const { req } = event.node
  const cfg = useConfig()
  const key = await requireClientKey(req)
  const { raw, json } = await readJsonBody(req, cfg.relay.maxBodyBytes)
  const requested = typeof json.model === 'string' ? json.model : ''
  const denied = checkAccess(key, 'claude', requested, req.headers['user-agent'])
  if (denied) throw new AnthropicError(403, 'permission_error', denied.message)
  const account = await claudeAccounts.pickFor(key)
  if (!account) {
    throw new AnthropicError(503, 'overloaded_error', key.claudeAccountId
      ? 'The Claude account dedicated to this API key is not available (disabled or deleted).'
      : 'No active Claude account is available: add or enable one in the admin API or UI.')
  }
  // count_tokens is free upstream: it is neither limited nor recorded.
  const admission = opts.record ? await admitOrThrow(key) : null
  const stopLease = admission ? keepLease(useRedis(), key.id, admission.leaseId) : () => {}
  const done: Finished = { tap: null, outcome: 'aborted', status: 0, startedAt: new Date() }
  try {
    await forward(event, account, raw, opts, done)
  }
  finally {
    stopLease()
    if (admission) await record(key, account, requested, admission, done)
  }
}

async function admitOrThrow(key: ApiKeyRecord): Promise<Admission> {
  const a = await admit(useRedis(), key)
  if (!isDenial(a)) return a
  const headers: Record<string, string> = a.retryAfter ? { 'retry-after': String(a.retryAfter) } : {}
  throw new AnthropicError(a.status, a.status === 401 ? 'authentication_error' : 'rate_limit_error', a.message, headers)
}

/** What recording needs to know about how the request ended. */
interface Finished { tap: AnthropicUsageTap | null, outcome: Outcome, status: number, startedAt: Date }

async function forward(event: H3Event, account: ClaudeAccount, raw: Buffer, opts: RelayOptions, done: Finished): Promise<void> {
  const { req, res } = event.node
  const cfg = useConfig()
  const ac = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) ac.abort()
  })
  let up: Awaited<ReturnType<typeof request>>
  try {
    up = await request(upstreamUrl(account.apiUrl, opts.path, req.url), {
      method: 'POST',
      headers: upstreamHeaders(req, account, raw.length),
      body: raw,
      signal: ac.signal,
      dispatcher: dispatcherFor(account.id, account.proxy),
      headersTimeout: cfg.relay.timeoutMs,
      bodyTimeout: cfg.relay.timeoutMs,
    })
  }
  catch (err) {
    if (ac.signal.aborted) return
    const failure = classifyUpstreamError(err, account.proxy)
    if (failure.proxyFault) useLogger().warn({ accountId: account.id, reason: failure.message }, 'proxy failure')
    done.outcome = 'failed'
    done.status = failure.status
    throw new AnthropicError(failure.status, failure.status === 504 ? 'timeout_error' : 'api_error', failure.message)
  }

  done.status = up.statusCode
  const contentType = String(up.headers['content-type'] ?? '')
  const sse = contentType.startsWith('text/event-stream')
  const ok = up.statusCode >= 200 && up.statusCode < 300
  done.tap = opts.record && ok ? new AnthropicUsageTap(sse) : null
  const headers = responseHeaders(up.headers)
  // undici.request never decodes, so the bytes we relay are exactly upstream's: its length and
  // (should it ignore our identity request) its encoding stay true. A known length also spares
  // chunked framing.
  for (const name of ['content-length', 'content-encoding'] as const) {
    const v = up.headers[name]
    if (typeof v === 'string') headers[name] = v
  }
  if (sse) {
    headers['cache-control'] = 'no-cache, no-transform'
    headers['x-accel-buffering'] = 'no'
  }
  res.writeHead(up.statusCode, headers)
  if (sse) res.flushHeaders()
  done.outcome = await pump(up.body, res, done.tap, sse)
}

const unpricedSeen = new Set<string>()

async function record(key: ApiKeyRecord, account: ClaudeAccount, requested: string, admission: Admission, done: Finished): Promise<void> {
  const model = done.tap?.model ?? (requested || 'unknown')
  const usage = done.tap?.usage ?? emptyUsage()
  // Counted: a response that carried usage, or a client that left before any answer (a request
  // with what was seen). Upstream errors and failures only release the lease and log the request.
  const counted = done.tap !== null || (done.outcome === 'aborted' && done.status === 0)
  const { micros, known } = await pricing.cost(model, usage)
  if (counted && !known && !unpricedSeen.has(model)) {
    unpricedSeen.add(model)
    useLogger().warn({ model }, 'model has no price: recorded with cost 0 (add a price in the admin pricing table)')
  }
  try {
    await recordUsage(useRedis(), {
      keyId: key.id, accountId: account.id, model, usage, costMicros: micros, priced: known, counted,
      aborted: done.outcome !== 'done', status: done.status, durationMs: Date.now() - done.startedAt.getTime(),
      at: done.startedAt, windowStart: admission.windowStart, leaseId: admission.leaseId,
    })
  }
  catch (err) {
    useLogger().error({ err, keyId: key.id, accountId: account.id }, 'usage recording failed')
  }
}
