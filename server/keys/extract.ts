import type { IncomingHttpHeaders } from 'node:http'

/**
 * The client's relay key from, in order: `x-api-key`, `Authorization: Bearer`, `x-goog-api-key`,
 * or the `key` query parameter (Google SDK style). Returns null when none is present.
 */
export function extractApiKey(headers: IncomingHttpHeaders, url: string | undefined): string | null {
  const x = headers['x-api-key']
  if (typeof x === 'string' && x) return x.trim()
  const auth = headers.authorization
  if (auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim() || null
  const g = headers['x-goog-api-key']
  if (typeof g === 'string' && g) return g.trim()
  const q = url?.indexOf('?') ?? -1
  if (q !== -1) {
    const key = new URLSearchParams(url!.slice(q + 1)).get('key')
    if (key) return key.trim()
  }
  return null
}
