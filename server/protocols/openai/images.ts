import { lookup } from 'node:dns/promises'
import type { LookupAddress } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { Agent, request } from 'undici'
import { type ImageResolver, type InlineImage, OpenAIRequestError } from './types'

// OpenAI `image_url` parts into the inline images Claude and Gemini take. A data: URL is checked
// and passed on as it is (never decoded); an http(s) URL is fetched by the relay — from inside the
// operator's network — only when OPENAI_IMAGE_FETCH allows it, and never from an address that is
// not public (docs/security.md "Remote images").

/** What the resolver accepts (server/config: `openai.images`). */
export interface ImageResolverOptions {
  /** Whether http(s) URLs are fetched (OPENAI_IMAGE_FETCH); data: URLs always work. */
  fetch: boolean
  /** Largest image, decoded bytes. */
  maxBytes: number
  /** For a whole fetch: DNS, connect, headers and body. */
  timeoutMs: number
}

/** Name resolution and the address check; the defaults are the system's, tests replace them. */
export interface ImageNet {
  lookup: (hostname: string) => Promise<LookupAddress[]>
  isBlocked: (address: string) => boolean
}

/** The media types both upstreams take inline. */
const MEDIA_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp'])
const TYPES_TEXT = 'image/png, image/jpeg, image/gif or image/webp'
const DATA_URL_HEAD = /^data:([^;,]*)((?:;[^;,]*)*),/i
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const MAX_URL_LENGTH = 8192

const bad = (message: string) => new OpenAIRequestError(message, null, 'invalid_image_url')
const megabytes = (bytes: number) => `${+(bytes / 2 ** 20).toFixed(2)} MB`

// Addresses that are not the public internet: this network, private, CGNAT, loopback,
// link-local, IETF/documentation/benchmark ranges, multicast and reserved (IPv4); unspecified,
// loopback, IPv4-compatible and -translated, discard, Teredo, documentation, 6to4, local NAT64,
// unique-local, site-local, link-local and multicast (IPv6). Node's BlockList also matches
// IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) against the IPv4 ranges.
const NOT_PUBLIC = new BlockList()
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [['::', 96], ['::ffff:0:0:0', 96], ['100::', 64], ['2001::', 32], ['2001:db8::', 32], ['2002::', 16],
  ['64:ff9b:1::', 48], ['fc00::', 7], ['fec0::', 10], ['fe80::', 10], ['ff00::', 8]] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv6')

// NAT64's well-known prefix carries an IPv4 address in its last 32 bits (canonical form, below).
const NAT64 = /^64:ff9b::(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,4})$/

/** Whether the relay must not connect to `address` (anything that is not a public unicast IP, or not an IP at all). */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 4) return NOT_PUBLIC.check(address, 'ipv4')
  if (family !== 6) return true
  if (NOT_PUBLIC.check(address, 'ipv6')) return true
  // The URL parser writes IPv6 in canonical form (lower case, `::` compression, hex groups).
  const nat64 = NAT64.exec(new URL(`http://[${address}]/`).hostname.slice(1, -1))
  if (!nat64) return false
  const v4 = Number.parseInt(nat64[1] ?? '0', 16) * 65536 + Number.parseInt(nat64[2]!, 16)
  return NOT_PUBLIC.check([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join('.'), 'ipv4')
}

const SYSTEM_NET: ImageNet = { lookup: host => lookup(host, { all: true, verbatim: true }), isBlocked: isBlockedAddress }

/** A data: URL's image: media type and base64 checked, size checked from the length before anything is decoded. */
function fromDataUrl(url: string, maxBytes: number): InlineImage {
  const head = DATA_URL_HEAD.exec(url.slice(0, 200))
  if (!head) throw bad('The image is not a valid data: URL; send data:image/png;base64,… (or an https:// URL).')
  const mediaType = head[1]!.trim().toLowerCase()
  if (!MEDIA_TYPES.has(mediaType)) throw bad(`Image type ${JSON.stringify(mediaType.slice(0, 60))} is not supported; use ${TYPES_TEXT}.`)
  if (!/;base64$/i.test(head[2]!)) throw bad('A data: URL image must be base64-encoded (data:image/png;base64,…).')
  const data = url.slice(head[0].length)
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0
  if (Math.floor(data.length / 4) * 3 - padding > maxBytes) throw bad(`The image is larger than the relay accepts (${megabytes(maxBytes)}).`)
  if (!data || data.length % 4 !== 0 || !BASE64.test(data)) throw bad('The data: URL image is not valid base64.')
  return { mediaType, data }
}

/** The one address the fetch connects to: every address the name resolves to must be public. */
async function checkedAddress(hostname: string, net: ImageNet): Promise<LookupAddress> {
  const family = isIP(hostname)
  let addresses: LookupAddress[]
  try {
    addresses = family ? [{ address: hostname, family }] : await net.lookup(hostname)
  }
  catch {
    throw bad(`The image host ${JSON.stringify(hostname.slice(0, 100))} could not be resolved.`)
  }
  // A name that resolves to one private address among public ones is refused as a whole.
  if (!addresses.length || addresses.some(a => net.isBlocked(a.address))) {
    throw bad('The image host is not a public internet address; the relay does not fetch from private, loopback or link-local networks.')
  }
  return addresses[0]!
}

/**
 * The connection's name resolution answers the address already checked, so a second DNS answer
 * (DNS rebinding) never decides where it goes; TLS still verifies the certificate for the name.
 */
function pinnedLookup(target: LookupAddress): LookupFunction {
  return (_host, options, callback) => {
    if (options.all) callback(null, [target])
    else callback(null, target.address, target.family)
  }
}

/** Fetch an http(s) image: public address only, no redirects, bounded in time and size, an image content-type. */
async function fetchImage(url: URL, opts: ImageResolverOptions, net: ImageNet): Promise<InlineImage> {
  const signal = AbortSignal.timeout(opts.timeoutMs)
  let dispatcher: Agent | undefined
  try {
    // dns.lookup cannot be cancelled: the race ends the wait, the lookup finishes on its own.
    const target = await Promise.race([checkedAddress(url.hostname.replace(/^\[|\]$/g, ''), net), aborted(signal)])
    dispatcher = new Agent({ connect: { lookup: pinnedLookup(target), timeout: opts.timeoutMs }, connections: 1 })
    const res = await request(url, {
      dispatcher, signal, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs,
      headers: { 'accept': [...MEDIA_TYPES].join(', '), 'user-agent': 'claude-relay-service (image_url fetch)' },
    })
    if (res.statusCode >= 300 && res.statusCode < 400) throw bad(`The image URL answered with a redirect (HTTP ${res.statusCode}); redirects are not followed, send the image's final URL.`)
    if (res.statusCode !== 200) throw bad(`The image URL answered HTTP ${res.statusCode}.`)
    const contentType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (!MEDIA_TYPES.has(contentType)) throw bad(`The image URL did not answer an image the upstreams take (content-type ${JSON.stringify(contentType.slice(0, 60))}); use ${TYPES_TEXT}.`)
    const tooLarge = bad(`The image is larger than the relay accepts (${megabytes(opts.maxBytes)}).`)
    if (Number(res.headers['content-length'] ?? 0) > opts.maxBytes) throw tooLarge
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > opts.maxBytes) throw tooLarge
      chunks.push(chunk)
    }
    if (!size) throw bad('The image URL answered an empty body.')
    return { mediaType: contentType, data: Buffer.concat(chunks, size).toString('base64') }
  }
  catch (err) {
    if (err instanceof OpenAIRequestError) throw err
    if (signal.aborted || (err as { name?: string }).name?.includes('Timeout')) throw bad(`The image URL did not answer within ${opts.timeoutMs} ms.`)
    throw bad(`The image URL could not be fetched (${(err as { code?: string }).code ?? 'connection failed'}).`)
  }
  finally {
    void dispatcher?.destroy()
  }
}

/** A promise that rejects when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))
}

/**
 * The ImageResolver for OpenAI image parts: data: URLs always (up to `maxBytes`), http(s) URLs
 * only with `opts.fetch`. Every refusal is an OpenAIRequestError whose message says what to do;
 * the caller names the part (`messages[i].content[j].image_url`). `net` is for tests only.
 */
export function imageResolver(opts: ImageResolverOptions, net: ImageNet = SYSTEM_NET): ImageResolver {
  return async (url) => {
    if (/^data:/i.test(url)) return fromDataUrl(url, opts.maxBytes)
    let parsed: URL | null = null
    if (url.length <= MAX_URL_LENGTH && /^https?:\/\//i.test(url)) {
      try {
        parsed = new URL(url)
      }
      catch { /* refused below */ }
    }
    if (!parsed) throw bad('The image URL must be a data: URL (data:image/png;base64,…) or an http(s) URL.')
    if (!opts.fetch) throw bad('Remote images are off on this relay (OPENAI_IMAGE_FETCH=false); send the image as a data: URL (data:image/png;base64,…).')
    if (parsed.username || parsed.password) throw bad('The image URL must not carry a user name or password.')
    return fetchImage(parsed, opts, net)
  }
}
