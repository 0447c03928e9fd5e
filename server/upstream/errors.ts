import { redactProxyUrl } from './proxy-url'

/** A failure before any upstream response, protocol-neutral (each protocol renders its shape). */
export interface UpstreamFailure { status: 502 | 504, message: string, proxyFault: boolean }

/**
 * Classify an undici/socks error from a request that got no response. Proxy faults (refused
 * credentials, proxy down) are named with the proxy URL — password redacted — so they are never
 * mistaken for an upstream answer or blamed on the client's key.
 */
export function classifyUpstreamError(err: unknown, proxy: string | null): UpstreamFailure {
  const e = err as { code?: string, name?: string, message?: string, cause?: { code?: string, name?: string, message?: string } }
  const code = e.code ?? ''
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { status: 504, message: 'Upstream did not answer in time (PROXY_TIMEOUT).', proxyFault: false }
  }
  if (proxy) {
    const where = redactProxyUrl(proxy)
    const text = `${e.message ?? ''} ${e.cause?.message ?? ''}`
    const socks = e.name === 'SocksClientError' || e.cause?.name === 'SocksClientError'
    if (/authentication failed|Proxy response \((401|407)\)/i.test(text)) {
      return { status: 502, message: `Proxy ${where} refused the account's credentials.`, proxyFault: true }
    }
    const refused = (e.cause?.code ?? code) === 'ECONNREFUSED' || /ECONNREFUSED/.test(text)
    if (socks || refused || /Proxy response/i.test(text)) {
      return { status: 502, message: `Proxy ${where} failed: ${refused ? 'connection refused' : 'could not open a tunnel to the upstream'}.`, proxyFault: true }
    }
  }
  return { status: 502, message: `Upstream unreachable (${e.cause?.code || code || e.name || 'error'}).`, proxyFault: false }
}
