import { defineEventHandler, sendNoContent, setResponseHeader, setResponseHeaders } from 'h3'
import { useConfig } from '../config'
import { allowedOrigin, isClientPath, preflightHeaders, responseHeaders } from '../system/cors'

// CORS for browser clients on the client routes only (server/system/cors.ts). With CORS_ORIGINS
// empty this is one property read per request. No allow-credentials ever: browsers send no
// cookies with these requests, and the key travels in a header the page itself sets.
export default defineEventHandler((event) => {
  const origins = useConfig().corsOrigins
  if (!origins || !isClientPath(event.path)) return
  const headers = event.node.req.headers
  // The answer depends on Origin unless every origin gets `*`: shared caches must keep them apart.
  if (origins !== '*') setResponseHeader(event, 'vary', 'origin')
  const allow = allowedOrigin(origins, headers.origin)
  if (event.method === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined) {
    // A refused origin gets a plain 403 without CORS headers: the browser blocks the request, and
    // the status says why in the browser's network log.
    if (!allow) return sendNoContent(event, 403)
    setResponseHeaders(event, preflightHeaders(allow, headers['access-control-request-headers']))
    return sendNoContent(event, 204)
  }
  if (allow) setResponseHeaders(event, responseHeaders(allow))
})
