import type { IncomingMessage, ServerResponse } from 'node:http'
import { Transform } from 'node:stream'
import type { H3Event } from 'h3'
import { request } from 'undici'
import { type Account, geminiAccounts } from '../../accounts'
import { stateFromFailure } from '../../accounts/state'
import { useConfig } from '../../config'
import type { ApiKeyRecord } from '../../keys'
import { checkAccess } from '../../keys/access'
import { keepLease } from '../../keys/admission'
import { useLogger } from '../../logging'
import { admitOrFail, authenticate, checkModelName, logRequest, readJsonBody, recordRequest, relayRequest, releaseAdmission } from '../../relay/steps'
import { useRedis } from '../../store/redis'
import { ACCOUNT_FAILED, classifyUpstreamError } from '../../upstream/errors'
import { headerAllowList } from '../../upstream/headers'
import { type Outcome, pump, readBounded } from '../../upstream/stream'
import { CodeAssistSetupError, CodeAssistUnwrapper, internalBody, type InternalParts, internalParts, onboardedAnswer, projectFor, unwrapJson, wrapRequest } from './code-assist'
import { geminiStateFromResponse, GoogleError, googleErrorBody, googleFail } from './errors'
import { apiPath, type GeminiRoute, parseRoute, routeRefusal, upstreamQuery, wantsSse } from './routes'
import { GeminiUsageTap } from './usage'

type Json = Record<string, unknown>

// What a client may tell Google, and what Google may tell the client. Never the client's key.
const requestHeaders = headerAllowList(['accept', 'content-type', 'user-agent', 'x-goog-api-client'])
const responseHeaders = headerAllowList(['content-type', 'retry-after', 'x-goog-request-id'])

/** Statuses that may say something about the account rather than the request. */
const ACCOUNT_STATUSES = new Set([400, 401, 403, 429, 500, 502, 503, 504])
const MAX_ERROR_BODY = 64 * 1024
const MAX_JSON_BODY = 32 * 1024 * 1024

/** Models answered for OAuth accounts (Code Assist has no model list of its own). */
const CODE_ASSIST_MODELS = ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-2.0-flash']
const modelEntry = (id: string) => ({
  name: `models/${id}`, version: '001', displayName: id, supportedGenerationMethods: ['generateContent', 'streamGenerateContent', 'countTokens'],
})

interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  route: GeminiRoute
  key: ApiKeyRecord
  raw: Buffer
  json: Json
  /** What a Code Assist call takes from the client's body (validated); null on standard routes. */
  internal: InternalParts | null
  /** The query string sent upstream (from an allow-list: `upstreamQuery`). */
  query: string
  /** The client asked for SSE (`alt=sse`). */
  sse: boolean
  signal: AbortSignal
}

type Upstream
  = | { url: string, headers: Record<string, string>, body: Buffer, method: 'GET' | 'POST', translate: 'json' | 'sse' | 'array' | null }
    /** Answered by the relay itself, from the account (onboardUser). */
    | { local: Buffer }

/** Build the upstream call for this account: the API with its key, or Code Assist with its token. */
async function upstreamFor(ctx: Ctx, account: Account): Promise<Upstream> {
  const cfg = useConfig()
  const { route, req } = ctx
  const h = requestHeaders(req.headers)
  h['accept-encoding'] = 'identity'
  if (account.type !== 'oauth') {
    if (route.kind === 'internal') throw new Error('unreachable: Code Assist calls are served by OAuth accounts only')
    h['x-goog-api-key'] = account.apiKey
    const base = (account.apiUrl || cfg.gemini.apiUrl).replace(/\/+$/, '')
    // The path and query are built from validated parts only, never from what the client wrote.
    return { url: `${base}${apiPath(route)}${ctx.query}`, headers: h, body: ctx.raw, method: route.kind === 'generate' ? 'POST' : 'GET', translate: null }
  }
  h.authorization = `Bearer ${account.oauth?.accessToken ?? ''}`
  h['content-type'] = 'application/json'
  const base = cfg.gemini.codeAssistUrl.replace(/\/+$/, '')
  if (route.kind !== 'internal' && route.kind !== 'generate') throw new Error('unreachable: model listing is answered locally for OAuth accounts')
  // Every Code Assist call runs in the account's project (countTokens takes none).
  const project = route.method === 'countTokens' ? '' : await projectFor(account)
  if (route.kind === 'internal') {
    // Gemini CLI's own calls: the relay builds each body.
    if (route.method === 'onboardUser') return { local: Buffer.from(JSON.stringify(onboardedAnswer(project))) }
    const body = Buffer.from(JSON.stringify(internalBody(route.method, ctx.internal!, project)))
    return { url: `${base}/v1internal:${route.method}${ctx.query}`, headers: h, body, method: 'POST', translate: null }
  }
  const stream = route.method === 'streamGenerateContent'
  const body = Buffer.from(JSON.stringify(wrapRequest(route.method, route.model, project, ctx.json)))
  return {
    url: `${base}/v1internal:${route.method}${stream ? '?alt=sse' : ''}`, headers: h, body, method: 'POST',
    translate: stream ? (ctx.sse ? 'sse' : 'array') : 'json',
  }
}

interface Finished {
  account: Account
  tap: GeminiUsageTap | null
  outcome: Outcome
  status: number
  startedAt: Date
  ttfbMs: number | null
  /** ms the attempts waited for an upstream connection (the pool fills it in: `waitReport`). */
  connectionWaitMs: number
  attempts: number
  /** pump() relays a tapped body as is and closes it itself (after reading on for the usage). */
  pumpOwnsBody?: boolean
}

/**
 * Forward with failover while nothing reached the client: a 429, 5xx, refused credentials, a
 * connection error or a timeout marks the account and the next one is tried (MAX_RETRIES).
 */
async function forward(ctx: Ctx, first: Account, pick: (tried: ReadonlySet<string>) => Promise<Account | null>, done: Finished, record: boolean): Promise<void> {
  const cfg = useConfig()
  const { res } = ctx
  const tried = new Set<string>()
  let account: Account | null = first
  let last: { status: number, headers: Record<string, string>, body: Buffer } | GoogleError | null = null
  let refreshedAfter401 = false
  while (account && tried.size < Math.max(1, cfg.relay.maxRetries)) {
    tried.add(account.id)
    done.account = account
    done.attempts = tried.size
    let up: Upstream
    try {
      await geminiAccounts.ensureFreshToken(account)
      up = await upstreamFor(ctx, account)
    }
    catch (err) {
      if (err instanceof CodeAssistSetupError) await geminiAccounts.setState(account.id, stateFromFailure(err.message, cfg.accountStates))
      useLogger().warn({ accountId: account.id, reason: (err as Error).message }, 'gemini account could not be used, trying another account')
      last = new GoogleError(502, ACCOUNT_FAILED.setup)
      account = await pick(tried)
      continue
    }
    if ('local' in up) return sendBuffered(res, 200, { 'content-type': 'application/json; charset=UTF-8' }, up.local, Object.assign(done, { status: 200 }))
    const sentAt = performance.now()
    let r: Awaited<ReturnType<typeof request>>
    try {
      r = await request(up.url, {
        method: up.method, headers: up.headers, body: up.method === 'POST' ? up.body : undefined, signal: ctx.signal,
        dispatcher: geminiAccounts.dispatcherFor(account), headersTimeout: cfg.relay.timeoutMs, bodyTimeout: cfg.relay.timeoutMs,
        waitReport: done,
      } as Parameters<typeof request>[1])
    }
    catch (err) {
      if (ctx.signal.aborted) return
      geminiAccounts.recordAttempt(account.id, false, performance.now() - sentAt)
      const f = classifyUpstreamError(err, account.proxy)
      useLogger().warn({ accountId: account.id, reason: f.detail }, 'gemini upstream failure, trying another account')
      await geminiAccounts.setState(account.id, stateFromFailure(f.detail, cfg.accountStates))
      last = new GoogleError(f.status, f.message)
      Object.assign(done, { outcome: 'failed', status: f.status })
      account = await pick(tried)
      continue
    }
    done.status = r.statusCode
    geminiAccounts.recordAttempt(account.id, r.statusCode < 500 && r.statusCode !== 429, performance.now() - sentAt)
    if (r.statusCode === 401 && account.type === 'oauth' && !refreshedAfter401) {
      await readBounded(r.body, MAX_ERROR_BODY)
      refreshedAfter401 = true
      try {
        await geminiAccounts.ensureFreshToken(account, { force: true })
        tried.delete(account.id)
        continue
      }
      catch {
        last = new GoogleError(502, ACCOUNT_FAILED.refresh)
        account = await pick(tried)
        continue
      }
    }
    const headers = responseHeaders(r.headers)
    if (ACCOUNT_STATUSES.has(r.statusCode)) {
      const body = await readBounded(r.body, MAX_ERROR_BODY)
      const state = geminiStateFromResponse(r.statusCode, r.headers, body.toString('utf8'), cfg.accountStates)
      if (!state) return sendBuffered(res, r.statusCode, headers, body, done)
      useLogger().warn({ accountId: account.id, state: state.state, status: r.statusCode }, 'gemini account marked, trying another account')
      await geminiAccounts.setState(account.id, state)
      last = { status: r.statusCode, headers, body }
      done.outcome = 'failed'
      account = await pick(tried)
      continue
    }
    const ok = r.statusCode >= 200 && r.statusCode < 300
    const upstreamSse = String(r.headers['content-type'] ?? '').startsWith('text/event-stream')
    done.tap = record && ok ? new GeminiUsageTap(upstreamSse ? 'sse' : 'json') : null
    if (!ok || !up.translate) {
      if (typeof r.headers['content-length'] === 'string') headers['content-length'] = r.headers['content-length']
      if (upstreamSse) Object.assign(headers, { 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' })
      done.ttfbMs = Date.now() - done.startedAt.getTime()
      res.writeHead(r.statusCode, headers)
      if (upstreamSse) res.flushHeaders()
      done.pumpOwnsBody = done.tap !== null
      done.outcome = await pump(r.body, res, done.tap, null)
      return
    }
    if (up.translate === 'json') {
      const body = await readBounded(r.body, MAX_JSON_BODY)
      done.tap?.push(body)
      done.tap?.end()
      return sendBuffered(res, r.statusCode, { 'content-type': 'application/json; charset=UTF-8' }, unwrapJson(body), done)
    }
    // A Code Assist stream, unwrapped into the standard shape the client asked for.
    const tap = done.tap
    const out = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        tap?.push(chunk)
        unwrap.push(chunk)
        cb()
      },
      flush(cb) {
        unwrap.end()
        cb()
      },
    })
    const unwrap = new CodeAssistUnwrapper(up.translate, s => out.push(s))
    r.body.on('error', err => out.destroy(err))
    r.body.pipe(out)
    done.ttfbMs = Date.now() - done.startedAt.getTime()
    res.writeHead(200, {
      'content-type': up.translate === 'sse' ? 'text/event-stream' : 'application/json; charset=UTF-8',
      'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no',
    })
    res.flushHeaders()
    done.outcome = await pump(out, res, null, null)
    tap?.end()
    return
  }
  if (last instanceof GoogleError) throw last
  if (last) sendBuffered(res, last.status, { ...last.headers, 'x-relay-attempts': String(tried.size) }, last.body, done)
}

function sendBuffered(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer, done: Finished): void {
  headers['content-length'] = String(body.length)
  done.ttfbMs = Date.now() - done.startedAt.getTime()
  res.writeHead(status, headers)
  res.end(body)
  done.outcome = 'done'
}

/** True when a standard request's body names a model other than its path's (the path is what the key's allow-list checked). */
function bodyNamesOtherModel(method: string, model: string, json: Json): boolean {
  const inner = json.generateContentRequest
  const named = method === 'countTokens' && inner && typeof inner === 'object' ? (inner as Json).model : json.model
  return named !== undefined && (typeof named !== 'string' || named.replace(/^models\//, '') !== model)
}

/**
 * Relay one Gemini request (standard API or Gemini CLI's Code Assist calls): key → access →
 * account → admission → forward with failover (translated for OAuth accounts) → record.
 */
export async function relayGemini(event: H3Event, path: string): Promise<void> {
  return relayRequest(event.node.res, requestId => relayTracked(event, path, requestId))
}

async function relayTracked(event: H3Event, path: string, requestId: string): Promise<void> {
  const { req, res } = event.node
  const cfg = useConfig()
  const route = parseRoute(path)
  if (!route) throw routeRefusal(event.method, path)
  const wants = route.kind === 'models' || route.kind === 'model' ? 'GET' : 'POST'
  if (event.method !== wants) throw new GoogleError(405, `Method ${event.method} is not allowed here; use ${wants}.`, { allow: wants })
  const key = await authenticate(req, googleFail)
  const clientQuery = new URLSearchParams(req.url?.split('?')[1] ?? '')
  const query = upstreamQuery(route, clientQuery)
  const { raw, json } = wants === 'POST' ? await readJsonBody(req, cfg.relay.maxBodyBytes, googleFail) : { raw: Buffer.alloc(0), json: {} }
  const internal = route.kind === 'internal' ? internalParts(route.method, json) : null
  const model = route.kind === 'generate' || route.kind === 'model' ? route.model : internal?.model ?? ''
  checkModelName(model, googleFail)
  if (route.kind === 'generate' && bodyNamesOtherModel(route.method, route.model, json)) throw new GoogleError(400, `The model named in the body must be the path's (models/${route.model}).`)
  // Setup calls (loadCodeAssist, …) and model listings name no model: only the platform and client are checked.
  const denied = checkAccess(model ? key : { ...key, allowedModels: [], blockedModels: [] }, 'gemini', model, req.headers['user-agent'])
  if (denied) throw new GoogleError(403, denied.message)

  // Gemini CLI's own calls need an OAuth account; the standard API takes either kind.
  const apiKeyOnly = new Set<string>()
  if (route.kind === 'internal') for (const a of await geminiAccounts.all()) if (a.type !== 'oauth') apiKeyOnly.add(a.id)
  const pick = (tried: ReadonlySet<string>) => geminiAccounts.pickFor(key, new Set([...tried, ...apiKeyOnly]), null)
  const account = await pick(new Set())
  if (!account) {
    const why = await geminiAccounts.unavailable(key)
    useLogger().warn({ reqId: requestId, keyId: key.id, accounts: why.detail }, 'no gemini account can serve')
    throw new GoogleError(503, why.message, why.retryAfter ? { 'retry-after': String(why.retryAfter) } : {})
  }

  // Every route is admitted: generate calls spend (every limit, counted and recorded); countTokens,
  // model lists and setup calls hold a concurrency lease (and check expiry) while they run.
  const record = (route.kind === 'generate' || route.kind === 'internal') && (route.method === 'generateContent' || route.method === 'streamGenerateContent')
  const admission = await admitOrFail(key, googleFail, record ? { requestId, accountId: account.id, model, protocol: 'gemini' } : null)
  const stopLease = keepLease(useRedis(), key.id, admission.leaseId)
  const ac = new AbortController()
  const done: Finished = { account, tap: null, outcome: 'aborted', status: 0, startedAt: new Date(), ttfbMs: null, connectionWaitMs: 0, attempts: 0 }
  res.once('close', () => {
    if (!res.writableFinished && !done.pumpOwnsBody) ac.abort()
  })
  const ctx: Ctx = { req, res, route, key, raw, json, internal, query, sse: wantsSse(clientQuery), signal: ac.signal }
  try {
    if ((route.kind === 'models' || route.kind === 'model') && account.type === 'oauth') answerModels(res, route, done)
    else await forward(ctx, account, pick, done, record)
  }
  finally {
    stopLease()
    const served = {
      accountId: done.account.id, model: done.tap?.model ?? null, usage: done.tap?.usage ?? null,
      outcome: done.outcome, status: done.status, startedAt: done.startedAt,
    }
    const costMicros = record ? await recordRequest(key, model, admission, served, requestId) : null
    if (!record) await releaseAdmission(key, admission)
    logRequest({
      ...served, requestId, platform: 'gemini', route: route.kind === 'internal' ? `v1internal:${route.method}` : `${route.kind}:${route.kind === 'generate' ? route.method : ''}`,
      keyId: key.id, model: served.model ?? model, stream: route.kind !== 'models' && route.kind !== 'model' && route.method === 'streamGenerateContent',
      attempts: done.attempts, ttfbMs: done.ttfbMs, connectionWaitMs: done.connectionWaitMs, costMicros,
    })
  }
}

/** The model list (or one model) for an OAuth account, answered locally. */
function answerModels(res: ServerResponse, route: GeminiRoute, done: Finished): void {
  const body = route.kind === 'model'
    ? CODE_ASSIST_MODELS.includes(route.model) ? JSON.stringify(modelEntry(route.model)) : null
    : JSON.stringify({ models: CODE_ASSIST_MODELS.map(modelEntry) })
  const text = body ?? googleErrorBody(404, `models/${route.kind === 'model' ? route.model : ''} is not found.`)
  done.status = body ? 200 : 404
  sendBuffered(res, done.status, { 'content-type': 'application/json; charset=UTF-8' }, Buffer.from(text), done)
}
