import { lookup } from 'node:dns/promises'
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls'
import { buildConnector, Pool } from 'undici'
import { SocksClient } from 'socks'
import { parseProxyUrl } from './proxy-url'

/**
 * Where a connection goes: an upstream origin (after any proxy). `offerH2`: an https connection
 * offers HTTP/2 by ALPN besides HTTP/1.1 (the upstream chooses; see the socket's `alpnProtocol`).
 */
export interface Target { protocol: string, hostname: string, port: string | number, servername?: string | null, offerH2?: boolean }

/**
 * Opens a ready-to-use connection to a target: TCP, the proxy's handshake (SOCKS5 or HTTP
 * CONNECT) and TLS for https targets, all done when the promise resolves.
 */
export interface Connector {
  (target: Target): Promise<Socket>
  close(): Promise<void>
}

const CONNECT_TIMEOUT_MS = 10_000

let extraCa: { file: string | null, tls: { secureContext?: SecureContext } } | null = null

/**
 * TLS options that trust the system's CAs plus UPSTREAM_CA_FILE's, when configured. The context
 * is built once per file: building one from ~145 CAs costs ~20 ms of CPU, too much for every new
 * upstream connection.
 */
function trustedTls(file: string | null): { secureContext?: SecureContext } {
  if (extraCa?.file !== file) {
    extraCa = { file, tls: file ? { secureContext: createSecureContext({ ca: [...rootCertificates, readFileSync(file, 'utf8')] }) } : {} }
  }
  return extraCa.tls
}

const portOf = (t: Target) => Number(t.port) || (t.protocol === 'https:' ? 443 : 80)

/**
 * A connector for an account's proxy (null: direct). One place opens every upstream connection,
 * so the pools, the OAuth token calls and the direct path share the same proxy handling.
 */
export function createConnector(proxy: string | null, caFile: string | null = null): Connector {
  const tls = buildConnector({ timeout: CONNECT_TIMEOUT_MS, ...trustedTls(caFile) } as buildConnector.BuildOptions)
  // undici's connector sets ALPNProtocols itself: ['http/1.1'], or with allowH2 ['http/1.1', 'h2'].
  const tlsH2 = buildConnector({ timeout: CONNECT_TIMEOUT_MS, allowH2: true, ...trustedTls(caFile) } as buildConnector.BuildOptions)
  const finish = (t: Target, httpSocket?: Socket) => new Promise<Socket>((resolve, reject) => {
    const opts = { hostname: t.hostname, host: t.hostname, protocol: t.protocol, port: String(portOf(t)), servername: t.servername ?? undefined, httpSocket }
    const connect = t.offerH2 ? tlsH2 : tls
    connect(opts as buildConnector.Options, (err, socket) => (err ? reject(err) : resolve(socket as Socket)))
  })
  if (!proxy) return Object.assign((t: Target) => finish(t), { close: async () => {} })

  const u = parseProxyUrl(proxy)
  if (u.protocol.startsWith('socks')) {
    const connect = async (t: Target) => {
      // socks5h:// lets the proxy resolve names; socks5:// resolves them here (curl's convention).
      const destination = u.protocol === 'socks5:' ? (await lookup(t.hostname)).address : t.hostname
      const { socket } = await SocksClient.createConnection({
        proxy: {
          host: u.hostname, port: Number(u.port), type: 5,
          userId: u.username ? decodeURIComponent(u.username) : undefined,
          password: u.password ? decodeURIComponent(u.password) : undefined,
        },
        command: 'connect',
        timeout: CONNECT_TIMEOUT_MS,
        destination: { host: destination, port: portOf(t) },
      })
      return t.protocol === 'https:' ? finish(t, socket) : socket
    }
    return Object.assign(connect, { close: async () => {} })
  }

  // HTTP(S) proxy: undici's CONNECT (the same call its ProxyAgent makes), then TLS inside the tunnel.
  const auth = u.username ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` : null
  const proxyPool = new Pool(u.origin, { connect: { timeout: CONNECT_TIMEOUT_MS, ...trustedTls(caFile) } as buildConnector.BuildOptions })
  const connect = async (t: Target) => {
    const authority = `${t.hostname}:${portOf(t)}`
    const { socket, statusCode } = await proxyPool.connect({
      path: authority, headers: { host: authority, ...(auth ? { 'proxy-authorization': auth } : {}) },
      signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS),
    })
    if (statusCode !== 200) {
      socket.on('error', () => {}).destroy()
      throw new Error(`Proxy response (${statusCode}) !== 200 when HTTP Tunneling`)
    }
    return t.protocol === 'https:' ? finish(t, socket as Socket) : socket as Socket
  }
  return Object.assign(connect, { close: () => proxyPool.close() })
}

/** The connector in undici's callback shape (for Agent/Client `connect`). */
export function asUndiciConnect(connector: Connector) {
  return (opts: buildConnector.Options, cb: buildConnector.Callback) => {
    connector({ protocol: opts.protocol, hostname: opts.hostname, port: opts.port, servername: opts.servername })
      .then(socket => cb(null, socket), err => cb(err as Error, null))
  }
}
