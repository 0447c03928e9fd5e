import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { H3Event } from 'h3'
import { request } from 'undici'
import { claudeAccounts, type ClaudeAccount } from '../../accounts'
import { useConfig } from '../../config'
import { apiKeys, keyRejection, type ApiKeyRecord } from '../../keys'
import { extractApiKey } from '../../keys/extract'
import { useLogger } from '../../logging'
import { useRedis } from '../../store/redis'
import { BodyTooLargeError, readBodyLimited } from '../../upstream/body'
import { dispatcherFor } from '../../upstream/dispatchers'
import { headerAllowList } from '../../upstream/headers'
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

/** Map an undici failure before any response to the client's status and message. */
function upstreamFailure(err: unknown): AnthropicError {
  const code = (err as { code?: string }).code ?? ''
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new AnthropicError(504, 'timeout_error', 'Upstream did not answer in time (PROXY_TIMEOUT).')
  }
  const cause = (err as { cause?: { code?: string } }).cause?.code
  return new AnthropicError(502, 'api_error', `Upstream unreachable (${cause || code || (err as Error).name}).`)
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

/** Relay one Claude Messages-API request: auth → account → forward → stream back → record. */
export async function relayAnthropic(event: H3Event, opts: RelayOptions): Promise<void> {
  const { req, res } = event.node
  const cfg = useConfig()
  const key = await requireClientKey(req)
  const { raw, json } = await readJsonBody(req, cfg.relay.maxBodyBytes)
  const account = await claudeAccounts.pick()
  if (!account) throw new AnthropicError(503, 'overloaded_error', 'No active Claude account is available: add or enable one in the admin API or UI.')

  const ac = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) ac.abort()
  })
  const startedAt = new Date()
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
    if (ac.signal.aborted) return record(key, account, json, null, 'aborted', startedAt, opts)
    throw upstreamFailure(err)
  }

  const contentType = String(up.headers['content-type'] ?? '')
  const sse = contentType.startsWith('text/event-stream')
  const ok = up.statusCode >= 200 && up.statusCode < 300
  const tap = opts.record && ok ? new AnthropicUsageTap(sse) : null
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
  const outcome = await pump(up.body, res, tap, sse)
  if (tap) await record(key, account, json, tap, outcome, startedAt, opts)
}

async function record(key: ApiKeyRecord, account: ClaudeAccount, body: Record<string, unknown>, tap: AnthropicUsageTap | null, outcome: Outcome, at: Date, opts: RelayOptions): Promise<void> {
  if (!opts.record) return
  const model = tap?.model ?? (typeof body.model === 'string' ? body.model : 'unknown')
  try {
    await recordUsage(useRedis(), {
      keyId: key.id, accountId: account.id, accountKey: claudeAccounts.redisKey(account.id), model,
      usage: tap?.usage ?? emptyUsage(),
      aborted: outcome !== 'done', at,
    })
  }
  catch (err) {
    useLogger().error({ err, keyId: key.id, accountId: account.id }, 'usage recording failed')
  }
}
