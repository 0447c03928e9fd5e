import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { imageResolver, type ImageNet, isBlockedAddress } from '../../server/protocols/openai/images'
import { OpenAIRequestError } from '../../server/protocols/openai/types'

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')
const OFF = { fetch: false, maxBytes: 64, timeoutMs: 1000 }

/** The OpenAIRequestError message a resolution rejects with (fails the test when it resolves). */
async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(OpenAIRequestError)
  return (err as OpenAIRequestError).message
}

describe('data: URLs', () => {
  const resolve = imageResolver(OFF)

  it.each<[string, string, string]>([
    ['a PNG', `data:image/png;base64,${PNG.toString('base64')}`, 'image/png'],
    ['an upper-case JPEG type', `data:IMAGE/JPEG;base64,${PNG.toString('base64')}`, 'image/jpeg'],
    ['a parameter before base64', `data:image/webp;charset=binary;base64,${PNG.toString('base64')}`, 'image/webp'],
    ['a GIF, exactly maxBytes', `data:image/gif;base64,${Buffer.alloc(64, 1).toString('base64')}`, 'image/gif'],
  ])('%s is passed on as it is', async (_label, url, mediaType) => {
    const image = await resolve(url)
    expect(image).toEqual({ mediaType, data: url.slice(url.indexOf(',') + 1) })
  })

  it.each<[string, string, RegExp]>([
    ['bad base64 characters', 'data:image/png;base64,iVBO!w0K', /not valid base64/],
    ['base64 of the wrong length', 'data:image/png;base64,iVBORw0KG', /not valid base64/],
    ['padding in the middle', 'data:image/png;base64,iV==Rw0K', /not valid base64/],
    ['no data', 'data:image/png;base64,', /not valid base64/],
    ['not base64-encoded', 'data:image/png,rawbytes', /must be base64-encoded/],
    ['SVG (scripts, not taken upstream)', 'data:image/svg+xml;base64,PHN2Zz4=', /"image\/svg\+xml" is not supported; use image\/png/],
    ['text', 'data:text/plain;base64,aGk=', /not supported/],
    ['no comma', 'data:image/png;base64', /not a valid data: URL/],
    ['one byte over maxBytes', `data:image/png;base64,${Buffer.alloc(65).toString('base64')}`, /larger than the relay accepts/],
    // The size is judged from the length alone: a huge string is refused before it is examined.
    ['far too large, and not even base64', `data:image/png;base64,${'!'.repeat(10_000)}`, /larger than the relay accepts/],
  ])('%s is refused', async (_label, url, message) => {
    expect(await refusal(resolve(url))).toMatch(message)
  })

  it.each(['file:///etc/passwd', 'ftp://example.com/a.png', 'javascript:alert(1)', 'not a url', `https://example.com/${'a'.repeat(9000)}`])('%s is neither a data: nor an http(s) URL', async (url) => {
    expect(await refusal(resolve(url))).toMatch(/must be a data: URL .* or an http\(s\) URL/)
  })

  it('http(s) URLs are refused while fetching is off, naming the setting', async () => {
    expect(await refusal(resolve('https://example.com/cat.png'))).toMatch(/Remote images are off .*OPENAI_IMAGE_FETCH/)
  })
})

describe('isBlockedAddress', () => {
  it.each<[string, boolean]>([
    ['8.8.8.8', false],
    ['93.184.215.14', false],
    ['2606:4700:4700::1111', false],
    ['::ffff:8.8.8.8', false],
    ['64:ff9b::808:808', false],
    ['0.0.0.0', true],
    ['0.1.2.3', true],
    ['10.1.2.3', true],
    ['100.64.0.1', true],
    ['100.127.255.254', true],
    ['100.128.0.1', false],
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['169.254.169.254', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['192.0.0.170', true],
    ['198.18.0.1', true],
    ['224.0.0.251', true],
    ['239.255.255.250', true],
    ['255.255.255.255', true],
    ['::', true],
    ['::1', true],
    ['::127.0.0.1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.0.0.1', true],
    ['::ffff:a9fe:a9fe', true],
    ['64:ff9b::7f00:1', true],
    ['64:ff9b::10.0.0.1', true],
    ['fe80::1', true],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['ff02::1', true],
    ['2002:7f00:1::', true],
    ['2001:db8::1', true],
    ['localhost', true],
    ['', true],
  ])('%s → %s', (address, blocked) => {
    expect(isBlockedAddress(address)).toBe(blocked)
  })
})

describe('http(s) URLs, fetched', () => {
  const seen: { url: string, headers: IncomingHttpHeaders }[] = []
  const routes: Record<string, (res: ServerResponse) => void> = {
    '/cat.png': res => res.writeHead(200, { 'content-type': 'image/png; charset=binary' }).end(PNG),
    '/moved.png': res => res.writeHead(302, { location: '/cat.png' }).end(),
    '/page.html': res => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
    '/missing.png': res => res.writeHead(404).end(),
    '/declared-large.png': res => res.writeHead(200, { 'content-type': 'image/png', 'content-length': '100000' }).end(Buffer.alloc(100_000)),
    '/streamed-large.png': (res) => {
      res.writeHead(200, { 'content-type': 'image/png' })
      const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024)), 5)
      res.on('close', () => clearInterval(timer))
    },
    '/slow.png': res => setTimeout(() => res.writeHead(200, { 'content-type': 'image/png' }).end(PNG), 2000),
  }
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers })
    const route = routes[req.url ?? '']
    if (route) route(res)
    else res.writeHead(404).end()
  })
  let port = 0
  beforeAll(async () => {
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => {
    server.closeAllConnections()
    server.close()
  })

  const opts = { fetch: true, maxBytes: 32 * 1024, timeoutMs: 500 }
  // images.test does not exist: every connection can only reach the test server through the
  // address the injected lookup answered, checked by an address check that lets loopback pass.
  const lookups: string[] = []
  const loopbackAllowed: ImageNet = {
    lookup: async (host) => {
      lookups.push(host)
      return [{ address: '127.0.0.1', family: 4 }]
    },
    isBlocked: address => address !== '127.0.0.1',
  }
  const resolve = imageResolver(opts, loopbackAllowed)
  const at = (path: string) => `http://images.test:${port}${path}`

  it('fetches an image from the checked address, looked up once, under its own host name', async () => {
    lookups.length = 0
    seen.length = 0
    expect(await resolve(at('/cat.png'))).toEqual({ mediaType: 'image/png', data: PNG.toString('base64') })
    expect(lookups).toEqual(['images.test'])
    expect(seen).toHaveLength(1)
    expect(seen[0]!.headers.host).toBe(`images.test:${port}`)
  })

  it.each<[string, RegExp]>([
    ['/moved.png', /redirect \(HTTP 302\); redirects are not followed/],
    ['/page.html', /did not answer an image .*"text\/html"/],
    ['/missing.png', /answered HTTP 404/],
    ['/declared-large.png', /larger than the relay accepts \(0\.03 MB\)/],
    ['/streamed-large.png', /larger than the relay accepts/],
    ['/slow.png', /did not answer within 500 ms/],
  ])('%s is refused', async (path, message) => {
    seen.length = 0
    expect(await refusal(resolve(at(path)))).toMatch(message)
    // Nothing is followed or retried.
    expect(seen.map(s => s.url)).toEqual([path])
  })

  it('refuses 127.0.0.1 (and a name resolving to it) with the real address check, before connecting', async () => {
    seen.length = 0
    const real = imageResolver(opts)
    expect(await refusal(real(`http://127.0.0.1:${port}/cat.png`))).toMatch(/not a public internet address/)
    expect(await refusal(real(`http://[::1]:${port}/cat.png`))).toMatch(/not a public internet address/)
    expect(await refusal(real(`http://localhost:${port}/cat.png`))).toMatch(/not a public internet address/)
    expect(seen).toEqual([])
  })

  it('refuses a name when any of its addresses is not public, or when it does not resolve', async () => {
    const mixed = imageResolver(opts, { lookup: async () => [{ address: '93.184.215.14', family: 4 }, { address: '10.0.0.5', family: 4 }], isBlocked: isBlockedAddress })
    expect(await refusal(mixed('https://images.example/cat.png'))).toMatch(/not a public internet address/)
    const unknown = imageResolver(opts, { lookup: async () => Promise.reject(Object.assign(new Error('nope'), { code: 'ENOTFOUND' })), isBlocked: isBlockedAddress })
    expect(await refusal(unknown('https://nowhere.invalid/cat.png'))).toMatch(/"nowhere.invalid" could not be resolved/)
  })

  it('refuses user info in the URL', async () => {
    expect(await refusal(resolve(`http://user:pw@images.test:${port}/cat.png`))).toMatch(/user name or password/)
  })
})
