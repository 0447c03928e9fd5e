import type { IncomingHttpHeaders } from 'node:http'
import { forwardedValue } from './client-ip'
import { SESSION_COOKIE } from './sessions'

export type WriteVerdict = { ok: true } | { ok: false, status: 403 | 415, message: string }

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const BEARER = /^bearer\s+\S/i
const sessionCookie = new RegExp(`(?:^|;)\\s*${SESSION_COOKIE}=`)

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)

/** `scheme://host[:port]` as URL normalizes it (lower case, default port dropped); null when not a URL. */
function originOf(scheme: string, host: string): string | null {
  try {
    return new URL(`${scheme}://${host}`).origin
  }
  catch {
    return null
  }
}

/**
 * The origins this request may come from: its Host over the socket's scheme and, behind
 * `trustProxy` reverse proxies, the X-Forwarded-Host / -Proto they set (read N hops from the right).
 */
function ownOrigins(headers: IncomingHttpHeaders, encrypted: boolean, trustProxy: number): string[] {
  const scheme = encrypted ? 'https' : 'http'
  const host = first(headers.host) ?? ''
  const out = [originOf(scheme, host)]
  if (trustProxy > 0) {
    const fwdHost = forwardedValue(headers['x-forwarded-host'], trustProxy) ?? host
    const fwdProto = forwardedValue(headers['x-forwarded-proto'], trustProxy)?.toLowerCase() ?? scheme
    if (fwdProto === 'http' || fwdProto === 'https') out.push(originOf(fwdProto, fwdHost))
  }
  return out.filter((o): o is string => o !== null)
}

/** Whether the browser says the request comes from this very origin (Sec-Fetch-Site, else Origin). */
function sameOrigin(headers: IncomingHttpHeaders, encrypted: boolean, trustProxy: number): boolean {
  if (first(headers['sec-fetch-site']) === 'same-origin') return true
  const origin = first(headers.origin)
  if (!origin || origin === 'null') return false
  let claimed: string
  try {
    claimed = new URL(origin).origin
  }
  catch {
    return false
  }
  return ownOrigins(headers, encrypted, trustProxy).includes(claimed)
}

const isJson = (type: string | undefined) => (type ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json'

/**
 * CSRF rules for an admin request. A browser attaches the session cookie to requests any site
 * makes, so a state-changing request authenticated by the cookie must come from the console's own
 * origin (Origin or Sec-Fetch-Site), and its body must be JSON — a form or text/plain body is what
 * a foreign page can send without a CORS preflight. The anonymous login takes JSON only, too.
 * `Authorization: Bearer` calls (scripts, CLI) are exempt: no browser adds that header on its own.
 */
export function checkAdminWrite(method: string, headers: IncomingHttpHeaders, hasBody: boolean, opts: { encrypted: boolean, trustProxy: number }): WriteVerdict {
  if (SAFE_METHODS.has(method.toUpperCase())) return { ok: true }
  if (BEARER.test(first(headers.authorization) ?? '')) return { ok: true }
  if (sessionCookie.test(first(headers.cookie) ?? '') && !sameOrigin(headers, opts.encrypted, opts.trustProxy)) {
    return {
      ok: false, status: 403,
      message: 'Cross-site request refused: admin changes made with the session cookie must come from the console\'s own origin (behind a reverse proxy set TRUST_PROXY and forward X-Forwarded-Host/-Proto), or use Authorization: Bearer.',
    }
  }
  if (hasBody && !isJson(first(headers['content-type']))) {
    return { ok: false, status: 415, message: 'The admin API takes JSON bodies only: send content-type: application/json.' }
  }
  return { ok: true }
}
