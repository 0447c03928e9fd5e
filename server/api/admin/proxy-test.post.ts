import { ProxyTestSchema } from '../../admin/schemas'
import { createConnector } from '../../upstream/connect'
import { parseProxyUrl, redactProxyUrl } from '../../upstream/proxy-url'

// "Test proxy" in the add-account form: open one connection through the proxy (TCP, handshake, TLS).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { proxy, target } = await readValidatedBody(event, validate(ProxyTestSchema))
  try {
    parseProxyUrl(proxy)
  }
  catch (err) {
    throw createError({ statusCode: 400, message: (err as Error).message })
  }
  const cfg = useConfig()
  const u = new URL(target === 'gemini' ? cfg.gemini.apiUrl : cfg.claude.apiUrl)
  const connector = createConnector(proxy, cfg.upstreamCaFile)
  const t0 = performance.now()
  try {
    const socket = await connector({ protocol: u.protocol, hostname: u.hostname, port: u.port })
    socket.destroy()
    return { ok: true, ms: Math.round(performance.now() - t0), proxy: redactProxyUrl(proxy), target: u.origin }
  }
  catch (err) {
    const e = err as { code?: string, message?: string }
    const reason = `${e.code ? `${e.code}: ` : ''}${e.message ?? 'failed'}`.replace(/\/\/[^@\s/]*@/g, '//***@').slice(0, 200)
    return { ok: false, ms: Math.round(performance.now() - t0), proxy: redactProxyUrl(proxy), target: u.origin, error: reason }
  }
  finally {
    await connector.close()
  }
})
