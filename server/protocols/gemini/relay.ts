import type { IncomingMessage } from 'node:http'
import { Transform } from 'node:stream'
import type { H3Event } from 'h3'
import { type Account, geminiAccounts } from '../../accounts'
import { stateFromFailure } from '../../accounts/state'
import { useConfig } from '../../config'
import { type ParsedRequest, type ProtocolAdapter, runPipeline } from '../../relay/pipeline'
import { type Forwarding, type LocalAnswer, sendAnswer, type UpstreamCall } from '../../upstream/forward'
import { headerAllowList, SSE_HEADERS } from '../../upstream/headers'
import { pump, readBounded, sendHeadersSoon, type Tap } from '../../upstream/stream'
import { CodeAssistSetupError, CodeAssistUnwrapper, internalBody, type InternalParts, internalParts, onboardedAnswer, projectFor, unwrapJson, wrapRequest } from './code-assist'
import { geminiStateFromResponse, GoogleError, googleErrorBody, googleFail } from './errors'
import { apiPath, type GeminiRoute, parseRoute, routeRefusal, upstreamQuery, wantsSse } from './routes'
import { GeminiUsageTap } from './usage'

type Json = Record<string, unknown>

// What a client may tell Google, and what Google may tell the client. Never the client's key.
const requestHeaders = headerAllowList(['accept', 'content-type', 'user-agent', 'x-goog-api-client'])
const responseHeaders = headerAllowList(['content-type', 'retry-after', 'x-goog-request-id'])

/** Statuses that may say something about the account rather than the request. */
const ACCOUNT_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 429, 500, 502, 503, 504])
const MAX_JSON_BODY = 32 * 1024 * 1024

/** Models answered for OAuth accounts (Code Assist has no model list of its own). */
const CODE_ASSIST_MODELS = ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-2.0-flash']
const modelEntry = (id: string) => ({
  name: `models/${id}`, version: '001', displayName: id, supportedGenerationMethods: ['generateContent', 'streamGenerateContent', 'countTokens'],
})

/** A Gemini request as parsed: what the pipeline needs, plus what building the upstream call takes. */
export interface GeminiRequest extends ParsedRequest {
  /** What a Code Assist call takes from the client's body (validated); null on standard routes. */
  internal: InternalParts | null
  /** The query string sent upstream (from an allow-list: `upstreamQuery`). */
  query: string
  /** The client asked for SSE (`alt=sse`). */
  sse: boolean
}

/** How an answer is turned into what the client asked for: as is, or a Code Assist answer unwrapped. */
type Translate = 'json' | 'sse' | 'array' | null

/** Build the upstream call for this account: the API with its key, or Code Assist with its token. */
export async function upstreamFor(req: IncomingMessage, route: GeminiRoute, p: GeminiRequest, raw: Buffer, json: Json, account: Account): Promise<{ call: UpstreamCall | LocalAnswer, translate: Translate }> {
  const cfg = useConfig()
  const h = requestHeaders(req.headers)
  h['accept-encoding'] = 'identity'
  if (account.type !== 'oauth') {
    if (route.kind === 'internal') throw new Error('unreachable: Code Assist calls are served by OAuth accounts only')
    h['x-goog-api-key'] = account.apiKey
    const base = (account.apiUrl || cfg.gemini.apiUrl).replace(/\/+$/, '')
    // The path and query are built from validated parts only, never from what the client wrote.
    const method = route.kind === 'generate' ? 'POST' : 'GET'
    return { call: { url: `${base}${apiPath(route)}${p.query}`, headers: h, body: method === 'POST' ? raw : undefined, method }, translate: null }
  }
  h.authorization = `Bearer ${account.oauth?.accessToken ?? ''}`
  h['content-type'] = 'application/json'
  const base = cfg.gemini.codeAssistUrl.replace(/\/+$/, '')
  if (route.kind !== 'internal' && route.kind !== 'generate') throw new Error('unreachable: model listing is answered locally for OAuth accounts')
  // Every Code Assist call runs in the account's project (countTokens takes none).
  const project = route.method === 'countTokens' ? '' : await projectFor(account)
  if (route.kind === 'internal') {
    // Gemini CLI's own calls: the relay builds each body.
    if (route.method === 'onboardUser') return { call: { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: Buffer.from(JSON.stringify(onboardedAnswer(project))) }, translate: null }
    const body = Buffer.from(JSON.stringify(internalBody(route.method, p.internal!, project)))
    return { call: { url: `${base}/v1internal:${route.method}${p.query}`, headers: h, body, method: 'POST' }, translate: null }
  }
  const stream = route.method === 'streamGenerateContent'
  const body = Buffer.from(JSON.stringify(wrapRequest(route.method, route.model, project, json)))
  return {
    call: { url: `${base}/v1internal:${route.method}${stream ? '?alt=sse' : ''}`, headers: h, body, method: 'POST' },
    translate: stream ? (p.sse ? 'sse' : 'array') : 'json',
  }
}

/** True when a standard request's body names a model other than its path's (the path is what the key's allow-list checked). */
function bodyNamesOtherModel(method: string, model: string, json: Json): boolean {
  const inner = json.generateContentRequest
  const named = method === 'countTokens' && inner && typeof inner === 'object' ? (inner as Json).model : json.model
  return named !== undefined && (typeof named !== 'string' || named.replace(/^models\//, '') !== model)
}

/**
 * How a Gemini account's failures and answers are judged, whichever protocol the client spoke (the
 * OpenAI adapter relays into Gemini accounts too).
 */
export function geminiJudging(): Pick<Forwarding<Account, Tap>, 'callFailed' | 'accountStatuses' | 'stateFrom'> {
  const cfg = useConfig()
  return {
    callFailed: async (account, err) => {
      if (err instanceof CodeAssistSetupError) await geminiAccounts.setState(account.id, stateFromFailure(err.message, cfg.accountStates))
    },
    accountStatuses: ACCOUNT_STATUSES,
    stateFrom: async (_account, status, headers, body) => geminiStateFromResponse(status, headers, body.toString('utf8'), cfg.accountStates),
  }
}

/** Generate calls spend tokens (every limit, counted and recorded); the others hold a lease while they run. */
const spends = (route: GeminiRoute) => (route.kind === 'generate' || route.kind === 'internal') && (route.method === 'generateContent' || route.method === 'streamGenerateContent')

/** The model list (or one model) for an OAuth account, answered locally (Code Assist has none). */
function modelsAnswer(route: GeminiRoute): LocalAnswer {
  const body = route.kind === 'model'
    ? CODE_ASSIST_MODELS.includes(route.model) ? JSON.stringify(modelEntry(route.model)) : null
    : JSON.stringify({ models: CODE_ASSIST_MODELS.map(modelEntry) })
  const text = body ?? googleErrorBody(404, `models/${route.kind === 'model' ? route.model : ''} is not found.`)
  return { status: body ? 200 : 404, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: Buffer.from(text) }
}

/** The Gemini API and Gemini CLI's Code Assist calls as an adapter of the relay pipeline. */
const gemini: ProtocolAdapter<GeminiRoute, Account, GeminiUsageTap, GeminiRequest> = {
  platform: 'gemini',
  protocol: 'gemini',
  fail: googleFail,
  accounts: geminiAccounts,
  hasBody: route => route.kind !== 'models' && route.kind !== 'model',
  parse: (route, json, req) => {
    const clientQuery = new URLSearchParams(req.url?.split('?')[1] ?? '')
    const internal = route.kind === 'internal' ? internalParts(route.method, json) : null
    const model = route.kind === 'generate' || route.kind === 'model' ? route.model : internal?.model ?? ''
    if (route.kind === 'generate' && bodyNamesOtherModel(route.method, route.model, json)) throw new GoogleError(400, `The model named in the body must be the path's (models/${route.model}).`)
    return {
      model,
      // Setup calls (loadCodeAssist, …) and model listings name no model: only the platform and client are checked.
      modelChecked: model !== '',
      stream: route.kind !== 'models' && route.kind !== 'model' && route.method === 'streamGenerateContent',
      record: spends(route),
      route: route.kind === 'internal' ? `v1internal:${route.method}` : `${route.kind}:${route.kind === 'generate' ? route.method : ''}`,
      sessionHash: null,
      internal,
      query: upstreamQuery(route, clientQuery),
      sse: wantsSse(clientQuery),
    }
  },
  // Gemini CLI's own calls need an OAuth account; the standard API takes either kind.
  exclude: async (route) => {
    if (route.kind !== 'internal') return null
    const ids = new Set((await geminiAccounts.all()).filter(a => a.type !== 'oauth').map(a => a.id))
    return { ids, need: 'Gemini CLI\'s calls need a Gemini OAuth account', passedOver: 'is an API-key account' }
  },
  local: (route, account) => ((route.kind === 'models' || route.kind === 'model') && account.type === 'oauth' ? modelsAnswer(route) : null),
  forwarding: ({ req, route, parsed, raw, json }, pick) => {
    let translate: Translate = null
    return {
      accounts: geminiAccounts,
      pick,
      fail: googleFail,
      call: async (account) => {
        const built = await upstreamFor(req, route, parsed, raw, json, account)
        translate = built.translate
        return built.call
      },
      ...geminiJudging(),
      buffered: (status, headers, body) => ({ status, headers: responseHeaders(headers), body }),
      deliver: async (up, res, d) => {
        const ok = up.statusCode >= 200 && up.statusCode < 300
        const upstreamSse = String(up.headers['content-type'] ?? '').startsWith('text/event-stream')
        const tap = parsed.record && ok ? new GeminiUsageTap(upstreamSse ? 'sse' : 'json') : null
        if (!ok || !translate) {
          const headers = responseHeaders(up.headers)
          if (typeof up.headers['content-length'] === 'string') headers['content-length'] = up.headers['content-length']
          if (upstreamSse) Object.assign(headers, SSE_HEADERS)
          d.headersSent()
          res.writeHead(up.statusCode, headers)
          if (upstreamSse) sendHeadersSoon(res)
          if (tap) d.pumping()
          return { outcome: await pump(up.body, res, tap, null), tap }
        }
        if (translate === 'json') {
          const body = await readBounded(up.body, MAX_JSON_BODY)
          tap?.push(body)
          tap?.end()
          return { outcome: sendAnswer(res, { status: up.statusCode, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: unwrapJson(body) }, d), tap }
        }
        // A Code Assist stream, unwrapped into the standard shape the client asked for.
        const mode = translate
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
        const unwrap = new CodeAssistUnwrapper(mode, text => out.push(text))
        const src = up.body.readable()
        src.on('error', err => out.destroy(err))
        src.pipe(out)
        d.headersSent()
        res.writeHead(200, {
          'content-type': mode === 'sse' ? 'text/event-stream' : 'application/json; charset=UTF-8',
          ...SSE_HEADERS,
        })
        sendHeadersSoon(res)
        const outcome = await pump(out, res, null, null)
        tap?.end()
        return { outcome, tap }
      },
    }
  },
}

/** The route of a Gemini request, from its method and path alone (404 / 405 before the key is checked). */
function geminiRoute(method: string, path: string): GeminiRoute {
  const route = parseRoute(path)
  if (!route) throw routeRefusal(method, path)
  const wants = route.kind === 'models' || route.kind === 'model' ? 'GET' : 'POST'
  if (method !== wants) throw new GoogleError(405, `Method ${method} is not allowed here; use ${wants}.`, { allow: wants })
  return route
}

/** Relay one Gemini request (standard API or Gemini CLI's Code Assist calls) through the pipeline. */
export function relayGemini(event: H3Event, path: string): Promise<void> {
  return runPipeline(event, gemini, () => geminiRoute(event.method, path))
}
