import { isIP } from 'node:net'

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is the IPv4 address `10.0.0.1`. */
function normalize(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  return v4 ? v4[1]! : ip.toLowerCase()
}

/**
 * The address `trustProxy` hops from the right of a comma-separated forwarding header, or
 * undefined when the header has fewer entries (the request did not pass every trusted proxy) or
 * is empty. Each proxy appends what it saw, so only the rightmost `trustProxy` entries are theirs;
 * anything further left was written by the client and is never read.
 */
export function forwardedValue(header: string | string[] | undefined, trustProxy: number): string | undefined {
  if (trustProxy <= 0 || header === undefined) return undefined
  const entries = (Array.isArray(header) ? header.join(',') : header).split(',').map(s => s.trim())
  const value = entries[entries.length - trustProxy]
  return value || undefined
}

/**
 * The client's IP: the socket's address, or — only with `trustProxy` = N > 0 reverse proxies in
 * front — the address N hops from the right of X-Forwarded-For. A missing or malformed entry
 * falls back to the socket address (never to a value the client chose).
 */
export function clientIp(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: number): string {
  const forwarded = forwardedValue(forwardedFor, trustProxy)
  if (forwarded && isIP(forwarded)) return normalize(forwarded)
  return socketAddress ? normalize(socketAddress) : 'unknown'
}

/**
 * The address a throttle counts: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a
 * whole /64, so counting single addresses would give them 2^64 buckets).
 */
export function throttleAddress(ip: string): string {
  if (isIP(ip) !== 6) return ip
  const [head = '', tail = ''] = ip.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
  return `${groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

/**
 * The scheme the client used: https over TLS; with `trustProxy` > 0 reverse proxies, what their
 * X-Forwarded-Proto says (a TLS-terminating proxy talks plain http to us).
 */
export function requestProtocol(encrypted: boolean, forwardedProto: string | string[] | undefined, trustProxy: number): 'http' | 'https' {
  const forwarded = forwardedValue(forwardedProto, trustProxy)?.toLowerCase()
  if (forwarded === 'https' || forwarded === 'http') return forwarded
  return encrypted ? 'https' : 'http'
}
