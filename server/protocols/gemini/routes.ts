import { GoogleError } from './errors'

/**
 * Gemini paths as key holders send them, parsed from the RAW (undecoded) path into validated parts.
 * Every upstream URL is built from these parts only: nothing a client wrote is decoded into, or
 * pasted as is into, a path or query sent upstream (`..%2Ffiles` must never become `/v1beta/files`).
 */
export type GeminiVersion = 'v1beta' | 'v1'
export type GenerateMethod = 'generateContent' | 'streamGenerateContent' | 'countTokens'
/** Gemini CLI's Code Assist methods the relay serves; each upstream body is built by the relay. */
export type InternalMethod = 'loadCodeAssist' | 'onboardUser' | 'generateContent' | 'streamGenerateContent' | 'countTokens' | 'listExperiments' | 'retrieveUserQuota'

/** What a Gemini path asks for. */
export type GeminiRoute
  = | { kind: 'models', version: GeminiVersion }
    | { kind: 'model', version: GeminiVersion, model: string }
    | { kind: 'generate', version: GeminiVersion, model: string, method: GenerateMethod }
    | { kind: 'internal', method: InternalMethod }

/** A model id as it may appear in a path: letters, digits, `.`, `_`, `-`, starting with a letter or digit (so never a dot segment). */
export const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

const VERSIONS: ReadonlySet<string> = new Set<GeminiVersion>(['v1beta', 'v1'])
const GENERATE: ReadonlySet<string> = new Set<GenerateMethod>(['generateContent', 'streamGenerateContent', 'countTokens'])
const INTERNAL: ReadonlySet<string> = new Set<InternalMethod>(['loadCodeAssist', 'onboardUser', 'generateContent', 'streamGenerateContent', 'countTokens', 'listExperiments', 'retrieveUserQuota'])
/** Every character a valid Gemini path can hold (no `%`, `\`, spaces, control or non-ASCII characters). */
const PATH_CHARS = /^[A-Za-z0-9._:/-]*$/

/** Parse the raw path after `/api/gemini/` or `/gemini/` (null: not a Gemini endpoint the relay serves). */
export function parseRoute(path: string): GeminiRoute | null {
  if (path.length > 200 || !PATH_CHARS.test(path)) return null
  const internal = /^v1internal:([A-Za-z]+)$/.exec(path)
  if (internal) return INTERNAL.has(internal[1]!) ? { kind: 'internal', method: internal[1] as InternalMethod } : null
  const parts = path.split('/')
  if (parts.length < 2 || parts.length > 3 || !VERSIONS.has(parts[0]!) || parts[1] !== 'models') return null
  const version = parts[0] as GeminiVersion
  const segment = parts[2]
  if (segment === undefined) return { kind: 'models', version }
  const colon = segment.indexOf(':')
  const model = colon < 0 ? segment : segment.slice(0, colon)
  if (!MODEL_ID.test(model)) return null
  if (colon < 0) return { kind: 'model', version, model }
  const method = segment.slice(colon + 1)
  return GENERATE.has(method) ? { kind: 'generate', version, model, method: method as GenerateMethod } : null
}

/** The refusal of a path `parseRoute` did not accept: 400 for characters no Gemini path holds (it is not echoed), else 404. */
export function routeRefusal(method: string, path: string): GoogleError {
  if (path.length > 200 || !PATH_CHARS.test(path)) {
    return new GoogleError(400, 'Invalid Gemini path: it may hold only letters, digits and . _ - : / (no percent-encoding), as in /v1beta/models/{model}:generateContent.')
  }
  return new GoogleError(404, `No such Gemini endpoint: ${method} /${path}.`)
}

/** The Generative Language API path of a standard route (built from validated parts only). */
export function apiPath(route: Exclude<GeminiRoute, { kind: 'internal' }>): string {
  if (route.kind === 'models') return `/${route.version}/models`
  if (route.kind === 'model') return `/${route.version}/models/${route.model}`
  return `/${route.version}/models/${route.model}:${route.method}`
}

/** A page token as Google issues them (base64, either alphabet). */
const PAGE_TOKEN = /^[A-Za-z0-9_=+/-]{1,512}$/

/** True when the client asked for a stream as SSE (`alt=sse`). */
export const wantsSse = (query: URLSearchParams): boolean => query.get('alt') === 'sse'

/**
 * The query string sent upstream, from an allow-list: `alt=sse` on streams, `pageSize` (1–1000) and
 * `pageToken` on the model list. Anything else the client sent (its `key` included) is dropped;
 * a bad value of an allowed parameter is refused with 400.
 */
export function upstreamQuery(route: GeminiRoute, query: URLSearchParams): string {
  const out = new URLSearchParams()
  if ((route.kind === 'generate' || route.kind === 'internal') && route.method === 'streamGenerateContent' && wantsSse(query)) out.set('alt', 'sse')
  if (route.kind === 'models') {
    const size = query.get('pageSize')
    const token = query.get('pageToken')
    if (size !== null) {
      if (!/^\d{1,4}$/.test(size) || Number(size) < 1 || Number(size) > 1000) throw new GoogleError(400, 'pageSize must be a whole number from 1 to 1000.')
      out.set('pageSize', String(Number(size)))
    }
    if (token !== null) {
      if (!PAGE_TOKEN.test(token)) throw new GoogleError(400, 'pageToken must be the nextPageToken of a previous model list.')
      out.set('pageToken', token)
    }
  }
  const qs = out.toString()
  return qs ? `?${qs}` : ''
}
