/**
 * CORS for browser clients of the client routes (CORS_ORIGINS; docs/security.md "Browsers").
 * Pure functions over the configured origins and the request's headers, so the middleware
 * (server/middleware/cors.ts) stays a few lines and the matching is unit-tested on its own.
 */

/** `*`, or the configured origins as browsers send them (server/config: normalized once at start). */
export type CorsOrigins = '*' | ReadonlySet<string>

// The client protocols' routes and their CRS aliases. Never /api/admin, /metrics, /health, /web.
const CLIENT_PREFIXES = ['/api/v1', '/api/gemini', '/openai', '/gemini', '/claude']

// An encoded dot, slash or backslash, or a dot segment: the router may read such a path as
// another route than its prefix says, so it gets no CORS headers (browsers never send them).
const AMBIGUOUS = /%2e|%2f|%5c|\\|\/\.\.?(?:\/|$)/i

/** scheme://host[:port] of a real host name is at most ~270 characters; anything longer is ignored. */
export const MAX_ORIGIN_LENGTH = 300

/** Whether `path` (as sent, query included) is a client route that CORS applies to. */
export function isClientPath(path: string): boolean {
  const q = path.indexOf('?')
  const p = q === -1 ? path : path.slice(0, q)
  return CLIENT_PREFIXES.some(pre => p.startsWith(pre) && (p.length === pre.length || p[pre.length] === '/')) && !AMBIGUOUS.test(p)
}

/** The `access-control-allow-origin` value for `origin`: `*`, the origin itself, or null (not allowed: no CORS headers). */
export function allowedOrigin(origins: CorsOrigins, origin: string | undefined): string | null {
  if (!origin || origin.length > MAX_ORIGIN_LENGTH) return null
  if (origins === '*') return '*'
  return origins.has(origin) ? origin : null
}

// What the SDKs send from a browser: Anthropic's and OpenAI's (Stainless-built: x-stainless-os,
// -lang, -arch, -runtime, -retry-count, -timeout, … — new ones come with SDK releases, hence the
// prefix), Google's (x-goog-*), and user-agent, which Firefox lets scripts set.
const ALLOWED_HEADERS = new Set(['x-api-key', 'authorization', 'anthropic-version', 'anthropic-beta', 'anthropic-dangerous-direct-browser-access',
  'x-goog-api-key', 'x-goog-api-client', 'content-type', 'accept', 'user-agent'])
const ALLOWED_HEADER_PREFIX = 'x-stainless-'
const MAX_REQUESTED_HEADERS = 64

/**
 * The `access-control-allow-headers` answer: the requested headers that are on the allow-list,
 * echoed back (browsers take no `x-stainless-*` wildcard, and a fixed list would break a browser
 * client whenever an SDK release adds a header). A header not on the list is left out, so the
 * browser refuses the request. Null when there is nothing to allow.
 */
export function allowedRequestHeaders(requested: string | undefined): string | null {
  if (!requested) return null
  const allowed: string[] = []
  for (const raw of requested.split(',', MAX_REQUESTED_HEADERS)) {
    const name = raw.trim().toLowerCase()
    if (ALLOWED_HEADERS.has(name) || (name.startsWith(ALLOWED_HEADER_PREFIX) && /^[a-z0-9-]+$/.test(name))) allowed.push(name)
  }
  return allowed.length ? allowed.join(', ') : null
}

/** Preflights may be cached this long (s): a removed origin stops working within 10 minutes. */
const MAX_AGE_SECONDS = '600'

/** Headers of a preflight answer (204) for an allowed origin. */
export function preflightHeaders(allowOrigin: string, requestedHeaders: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    'access-control-allow-origin': allowOrigin,
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-max-age': MAX_AGE_SECONDS,
    'vary': 'origin, access-control-request-headers',
  }
  const allowHeaders = allowedRequestHeaders(requestedHeaders)
  if (allowHeaders) headers['access-control-allow-headers'] = allowHeaders
  return headers
}

/**
 * Headers of an actual answer to an allowed origin: the origin, and the response headers a
 * browser client may read (the SDKs' retry logic reads retry-after and x-should-retry; request ids
 * are what a user quotes when reporting a problem).
 */
export function responseHeaders(allowOrigin: string): Record<string, string> {
  return {
    'access-control-allow-origin': allowOrigin,
    'access-control-expose-headers': 'retry-after, x-should-retry, request-id, x-request-id',
  }
}
