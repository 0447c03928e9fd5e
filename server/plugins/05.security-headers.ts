import { setResponseHeaders } from 'h3'
import { BASE_HEADERS, pagePolicy } from '../system/security-headers'

/**
 * Security headers (server/system/security-headers.ts). A plugin, not a route middleware: Nitro
 * serves static assets before any server/middleware runs, while the `request` hook sees every
 * request; and only the `render:response` hook sees a page's HTML (to hash its inline scripts) and
 * the renderer's own `x-powered-by: Nuxt`, which it removes.
 */
export default defineNitroPlugin((nitroApp) => {
  nitroApp.hooks.hook('request', (event) => {
    setResponseHeaders(event, BASE_HEADERS)
  })
  let last: { html: string, policy: string } | undefined
  nitroApp.hooks.hook('render:response', (response) => {
    const headers = { ...response.headers }
    delete headers['x-powered-by']
    if (typeof response.body === 'string') {
      // The console is a client-side app: every page is the same shell, so the policy is reused.
      if (last?.html !== response.body) last = { html: response.body, policy: pagePolicy(response.body) }
      headers['content-security-policy'] = last.policy
    }
    response.headers = headers
  })
})
