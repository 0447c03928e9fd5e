import type { IncomingHttpHeaders } from 'node:http'

/** Added to a relayed SSE answer: no caching or transforming, and no buffering in a reverse proxy. */
export const SSE_HEADERS: Readonly<Record<string, string>> = { 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' }

/** Build a header filter from exact names and name prefixes (all lower-case). */
export function headerAllowList(names: readonly string[], prefixes: readonly string[] = []) {
  const exact = new Set(names)
  return (headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string> => {
    const out: Record<string, string> = {}
    for (const name in headers) {
      const v = headers[name]
      if (v === undefined) continue
      if (exact.has(name) || prefixes.some(p => name.startsWith(p))) out[name] = Array.isArray(v) ? v.join(', ') : v
    }
    return out
  }
}
