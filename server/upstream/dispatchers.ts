import { Agent, ProxyAgent, buildConnector, type Dispatcher } from 'undici'
import { lookup } from 'node:dns/promises'
import { SocksClient } from 'socks'

const POOL_OPTIONS = { keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, connections: 256 } as const

/** Parse and check a proxy URL; returns the normalised URL or throws with what is wrong. */
export function parseProxyUrl(raw: string): URL {
  let u: URL
  try {
    u = new URL(raw)
  }
  catch {
    throw new Error('proxy must be a URL such as socks5://user:pass@host:1080 or http://host:8080')
  }
  if (!['socks5:', 'socks5h:', 'http:', 'https:'].includes(u.protocol)) {
    throw new Error(`proxy scheme must be socks5, socks5h, http or https (got ${u.protocol.replace(':', '')})`)
  }
  if (!u.hostname || !explicitPort(raw, u)) throw new Error('proxy needs a host and a port, e.g. socks5://host:1080')
  return u
}

/** The port as written: WHATWG URLs drop :80 / :443 for http(s), but a proxy URL may name them. */
function explicitPort(raw: string, u: URL): string {
  return u.port || /^[a-z0-9+.-]+:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*):(\d+)/i.exec(raw)?.[1] || ''
}

/** The proxy URL with its password replaced, safe for logs, errors and admin views. */
export function redactProxyUrl(raw: string | null): string | null {
  if (!raw) return null
  try {
    const u = new URL(raw)
    const auth = u.username ? `${u.username}${u.password ? ':***' : ''}@` : ''
    const port = explicitPort(raw, u)
    return `${u.protocol}//${auth}${u.host.replace(/:\d+$/, '')}${port ? `:${port}` : ''}`
  }
  catch {
    return 'invalid proxy URL'
  }
}

function socksDispatcher(u: URL): Dispatcher {
  const tls = buildConnector({})
  return new Agent({
    ...POOL_OPTIONS,
    connect(opts, cb) {
      const https = opts.protocol === 'https:'
      // socks5h:// lets the proxy resolve names; socks5:// resolves them here (curl's convention).
      const host = u.protocol === 'socks5:' ? lookup(opts.hostname).then(r => r.address) : Promise.resolve(opts.hostname)
      host.then(destination => SocksClient.createConnection({
        proxy: {
          host: u.hostname, port: Number(u.port), type: 5,
          userId: u.username ? decodeURIComponent(u.username) : undefined,
          password: u.password ? decodeURIComponent(u.password) : undefined,
        },
        command: 'connect',
        destination: { host: destination, port: Number(opts.port) || (https ? 443 : 80) },
      })).then(
        ({ socket }) => https ? tls({ ...opts, httpSocket: socket } as Parameters<typeof tls>[0], cb) : cb(null, socket),
        (err: Error) => cb(err, null),
      )
    },
  })
}

/** A new dispatcher: direct keep-alive pool, HTTP CONNECT proxy, or SOCKS5 proxy. */
export function createDispatcher(proxy: string | null): Dispatcher {
  if (!proxy) return new Agent(POOL_OPTIONS)
  const u = parseProxyUrl(proxy)
  if (u.protocol.startsWith('socks')) return socksDispatcher(u)
  return new ProxyAgent({ uri: u.toString(), ...POOL_OPTIONS })
}

interface Cached { proxy: string | null, dispatcher: Dispatcher }
const byAccount = new Map<string, Cached>()

/**
 * The dispatcher for an account, cached so its keep-alive connections are reused across
 * requests; replaced (and the old one closed) when the account's proxy changes.
 */
export function dispatcherFor(accountId: string, proxy: string | null): Dispatcher {
  const hit = byAccount.get(accountId)
  if (hit && hit.proxy === proxy) return hit.dispatcher
  if (hit) void hit.dispatcher.close().catch(() => {})
  const dispatcher = createDispatcher(proxy)
  byAccount.set(accountId, { proxy, dispatcher })
  return dispatcher
}

/** Close and forget an account's dispatcher (account deleted or disabled). */
export function dropDispatcher(accountId: string): void {
  const hit = byAccount.get(accountId)
  byAccount.delete(accountId)
  if (hit) void hit.dispatcher.close().catch(() => {})
}

/** Close every dispatcher (shutdown). */
export async function closeDispatchers(): Promise<void> {
  const all = [...byAccount.values()]
  byAccount.clear()
  await Promise.allSettled(all.map(c => c.dispatcher.close()))
}
