import { redactProxyUrl } from './proxy-url'

/**
 * What a key holder is told when an account could not be used — nothing about which or why (the
 * admin's log and the account's state say that).
 */
export const ACCOUNT_FAILED = {
  refresh: 'An upstream account could not refresh its credentials; try again (the admin can see the cause).',
  setup: 'An upstream account could not be used; try again (the admin can see the cause).',
  connection: 'The upstream account\'s connection failed; try again (the admin can see the cause).',
} as const

/**
 * A failure before any upstream response, protocol-neutral (each protocol renders its shape).
 * `message` is for the key holder (what happened, nothing about the account or its proxy);
 * `detail` is for admins (account state reason, logs) and names the proxy, password redacted.
 */
export interface UpstreamFailure { status: 502 | 504, message: string, detail: string, proxyFault: boolean }

/**
 * Classify an undici/socks error from a request that got no response. Proxy faults (refused
 * credentials, proxy down) are told apart, so they are never mistaken for an upstream answer or
 * blamed on the client's key.
 */
export function classifyUpstreamError(err: unknown, proxy: string | null): UpstreamFailure {
  const e = err as { code?: string, name?: string, message?: string, cause?: { code?: string, name?: string, message?: string } }
  const code = e.code ?? ''
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    const message = 'Upstream did not answer in time (PROXY_TIMEOUT).'
    return { status: 504, message, detail: message, proxyFault: false }
  }
  if (proxy) {
    const where = redactProxyUrl(proxy)
    const text = `${e.message ?? ''} ${e.cause?.message ?? ''}`
    const socks = e.name === 'SocksClientError' || e.cause?.name === 'SocksClientError'
    const message = ACCOUNT_FAILED.connection
    if (/authentication failed|Proxy response \((401|407)\)/i.test(text)) {
      return { status: 502, message, detail: `Proxy ${where} refused the account's credentials.`, proxyFault: true }
    }
    const refused = (e.cause?.code ?? code) === 'ECONNREFUSED' || /ECONNREFUSED/.test(text)
    if (socks || refused || /Proxy response/i.test(text)) {
      return { status: 502, message, detail: `Proxy ${where} failed: ${refused ? 'connection refused' : 'could not open a tunnel to the upstream'}.`, proxyFault: true }
    }
  }
  const message = `Upstream unreachable (${e.cause?.code || code || e.name || 'error'}).`
  return { status: 502, message, detail: message, proxyFault: false }
}
