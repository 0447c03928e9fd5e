import { readFileSync } from 'node:fs'
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { type Dispatcher, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { createConnector } from '../../server/upstream/connect'
import { AccountPool, type PoolOptions, type WaitReport } from '../../server/upstream/pool'
import { TEST_TLS } from '../fixtures/anthropic-upstream'

const OPTS: PoolOptions = { warm: 1, max: 8, idleMs: 60_000, maxAgeMs: 600_000, backoffMaxMs: 200, http2: true }
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

interface Seen { path: string, version: string, port: number, aborted: boolean, completed: boolean }

/**
 * A local HTTPS upstream on the test certificate: HTTP/2 offered by ALPN (HTTP/1.1 accepted), or
 * HTTP/1.1 only (`h2: false`). Paths: /ok?hold=ms, /stream?n=&gap=ms (n chunks), /big (2 MiB), /hang.
 */
class Upstream {
  readonly seen: Seen[] = []
  readonly alpn: (string | false | null)[] = []
  readonly sessions = new Set<ServerHttp2Session>()
  /** The TLS connections (destroying one cuts its session without a word, as a reset connection does). */
  readonly sockets = new Set<TLSSocket>()
  port = 0
  private server: Http2SecureServer | HttpsServer

  constructor(private readonly h2 = true, private readonly settings: { maxConcurrentStreams?: number } = {}) {
    this.server = this.make()
  }

  private make() {
    const tls = { cert: readFileSync(TEST_TLS.certFile), key: readFileSync(TEST_TLS.keyFile) }
    const handler = (req: Http2ServerRequest, res: Http2ServerResponse) => void this.answer(req, res)
    const server = this.h2
      ? createSecureServer({ ...tls, allowHTTP1: true, settings: this.settings }, handler)
      : createHttpsServer(tls, handler as never)
    server.on('secureConnection', (s: TLSSocket) => {
      this.alpn.push(s.alpnProtocol)
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    server.on('session', (s: ServerHttp2Session) => {
      this.sessions.add(s)
      s.on('close', () => this.sessions.delete(s))
    })
    return server
  }

  private async answer(req: Http2ServerRequest, res: Http2ServerResponse) {
    const url = new URL(req.url, 'https://x')
    const rec: Seen = { path: url.pathname, version: req.httpVersion, port: req.socket.remotePort!, aborted: false, completed: false }
    this.seen.push(rec)
    res.on('close', () => rec.aborted = !rec.completed)
    // An HTTP/2 response emits 'finish' when its stream closes, also when the client reset it.
    res.on('finish', () => rec.completed = !req.stream?.rstCode)
    req.resume()
    const q = (k: string) => Number(url.searchParams.get(k) ?? 0)
    if (url.pathname === '/hang') return
    if (url.pathname === '/big') return void res.end(Buffer.alloc(2 * 1024 * 1024, 97))
    if (url.pathname === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      for (let i = 0; i < q('n'); i++) {
        if (res.destroyed) return
        res.write(`data: ${i}\n\n`)
        await sleep(q('gap'))
      }
      return void res.end()
    }
    await sleep(q('hold'))
    res.end('ok')
  }

  async start(port = 0) {
    await new Promise<void>(r => this.server.listen(port, '127.0.0.1', r))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  /** Take no new connections; the sessions open now stay (as an edge rolling out a new config). */
  stopListening() {
    this.server.close()
  }

  async stop() {
    for (const s of this.sessions) s.destroy()
    if ('closeAllConnections' in this.server) this.server.closeAllConnections()
    await new Promise(r => this.server.close(r))
  }

  get origin() {
    return `https://127.0.0.1:${this.port}`
  }
}

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function setup(opts: Partial<PoolOptions> = {}, up = new Upstream()) {
  await up.start()
  const pool = new AccountPool('acct', null, up.origin, { ...OPTS, ...opts }, createConnector(null, TEST_TLS.caFile), () => {})
  cleanup.push(() => up.stop(), () => pool.close())
  return { up, pool }
}

const get = async (pool: Dispatcher, origin: string, path: string, extra: Record<string, unknown> = {}) => {
  const res = await request(`${origin}${path}`, { dispatcher: pool, ...extra })
  return { status: res.statusCode, body: await res.body.text() }
}

describe('HTTP/2 in the account pool', () => {
  it('an upstream that picks h2: one session opened ahead; 20 concurrent requests share that connection', async () => {
    const { up, pool } = await setup({ warm: 3 })
    await pool.api.warmUp()
    expect(pool.api.stats()).toMatchObject({ protocol: 'h2', size: 1, open: 1, streams: 0, warmTarget: 1 })
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(pool, up.origin, '/ok?hold=50')))
    expect(answers).toEqual(Array(20).fill({ status: 200, body: 'ok' }))
    expect(up.alpn).toEqual(['h2'])
    expect(new Set(up.seen.map(s => s.port)).size).toBe(1)
    expect(up.seen.every(s => s.version === '2.0')).toBe(true)
    expect(pool.api.stats().counters).toMatchObject({ connects: 1, requests: 20 })
  })

  it('an https upstream without h2: HTTP/1.1 slots as before, the connection that asked among them', async () => {
    const { up, pool } = await setup({ warm: 3 }, new Upstream(false))
    await pool.api.warmUp()
    await sleep(50)
    expect(pool.api.stats()).toMatchObject({ protocol: 'http/1.1', size: 3, open: 3 })
    for (let i = 0; i < 3; i++) expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    expect(up.alpn).toHaveLength(3)
    expect(up.seen.every(s => s.version === '1.1')).toBe(true)
  })

  it('http2 off: only HTTP/1.1 is offered', async () => {
    const { up, pool } = await setup({ http2: false })
    await pool.api.warmUp()
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    expect(up.alpn).toEqual(['http/1.1'])
    expect(pool.api.stats().protocol).toBe('http/1.1')
  })

  it('requests before the protocol is known wait for the first connection, timed in waitReport', async () => {
    const { up, pool } = await setup({ warm: 0 })
    const report: WaitReport = { connectionWaitMs: 0 }
    const answers = await Promise.all([1, 2, 3].map(() => get(pool, up.origin, '/ok', { waitReport: report })))
    expect(answers.map(a => a.body)).toEqual(['ok', 'ok', 'ok'])
    expect(report.connectionWaitMs).toBeGreaterThan(0)
    expect(up.alpn).toEqual(['h2'])
    // With a session open and room on it, a request does not wait.
    const again: WaitReport = { connectionWaitMs: 0 }
    await get(pool, up.origin, '/ok', { waitReport: again })
    expect(again.connectionWaitMs).toBe(0)
  })

  it('another session opens only when the open ones are full (the upstream\'s max concurrent streams), up to max', async () => {
    const { up, pool } = await setup({ max: 2 }, new Upstream(true, { maxConcurrentStreams: 2 }))
    await pool.api.warmUp()
    await sleep(50) // the upstream's SETTINGS arrived
    const inflight = Array.from({ length: 6 }, () => get(pool, up.origin, '/ok?hold=150'))
    await sleep(60)
    expect(pool.api.stats()).toMatchObject({ size: 2, open: 2, busy: 2, streams: 4, queued: 2 })
    expect((await Promise.all(inflight)).every(a => a.body === 'ok')).toBe(true)
    expect(up.alpn).toEqual(['h2', 'h2'])
  })

  it('a graceful GOAWAY: the streams in flight finish whole; later requests go on a new session', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    const streams = Array.from({ length: 4 }, () => get(pool, up.origin, '/stream?n=6&gap=40'))
    await sleep(100)
    for (const s of up.sessions) s.goaway(0)
    const want = Array.from({ length: 6 }, (_, i) => `data: ${i}\n\n`).join('')
    expect(await Promise.all(streams)).toEqual(Array(4).fill({ status: 200, body: want }))
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    expect(new Set(up.seen.map(s => s.port)).size).toBe(2)
    expect(up.seen.slice(0, 4).every(s => s.completed && !s.aborted)).toBe(true)
  })

  it('a GOAWAY naming an earlier last stream: the streams it refused are sent again on a new session', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    const inflight = Array.from({ length: 3 }, () => get(pool, up.origin, '/ok?hold=200'))
    await sleep(60)
    for (const s of up.sessions) s.goaway(0, 1) // only stream 1 was processed
    expect(await Promise.all(inflight)).toEqual(Array(3).fill({ status: 200, body: 'ok' }))
    const ports = up.seen.map(s => s.port)
    // 3 on the first session, then the 2 refused ones again on a second.
    expect(ports).toHaveLength(5)
    expect(new Set(ports.slice(3))).toEqual(new Set([ports[4]]))
    expect(ports[4]).not.toBe(ports[0])
  })

  it('a connection that breaks fails its streams with a socket error, before and after headers; the next request gets a new session', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    const started = request(`${up.origin}/stream?n=50&gap=20`, { dispatcher: pool })
    const waiting = get(pool, up.origin, '/hang').catch((err: Error) => err)
    const res = await started
    const body = res.body.text().catch((err: Error) => err)
    await sleep(80)
    for (const s of up.sockets) s.destroy()
    expect(await body).toMatchObject({ code: 'UND_ERR_SOCKET' })
    expect(await waiting).toMatchObject({ code: 'UND_ERR_SOCKET' })
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    expect(pool.api.stats().counters).toMatchObject({ connects: 2, disconnects: 1 })
  })

  it('back-pressure: a response nobody reads pauses its stream, not the others on the session; read later, it is whole', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    const big = await request(`${up.origin}/big`, { dispatcher: pool })
    await sleep(100)
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    expect(up.seen[0]!.completed).toBe(false) // held back by flow control
    expect((await big.body.arrayBuffer()).byteLength).toBe(2 * 1024 * 1024)
    expect(new Set(up.seen.map(s => s.port)).size).toBe(1)
  })

  it('an abort cancels the stream: the upstream sees it closed unfinished', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    const ac = new AbortController()
    const res = await request(`${up.origin}/stream?n=100&gap=20`, { dispatcher: pool, signal: ac.signal })
    for await (const _ of res.body) break
    ac.abort()
    await expect.poll(() => up.seen[0]?.aborted, { timeout: 1000 }).toBe(true)
    await expect.poll(() => pool.api.stats().streams, { timeout: 1000 }).toBe(0)
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
  })

  it('headersTimeout: UND_ERR_HEADERS_TIMEOUT and the stream cancelled', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    await expect(get(pool, up.origin, '/hang', { headersTimeout: 150 })).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' })
    await expect.poll(() => up.seen[0]?.aborted, { timeout: 1000 }).toBe(true)
  })

  it('bodyTimeout: a stream silent longer than it fails with UND_ERR_BODY_TIMEOUT; one that keeps sending does not', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    expect((await get(pool, up.origin, '/stream?n=6&gap=60', { bodyTimeout: 150 })).status).toBe(200)
    const res = await request(`${up.origin}/stream?n=3&gap=400`, { dispatcher: pool, bodyTimeout: 150 })
    await expect(res.body.text()).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' })
  })

  it('a new-style handler (onRequestStart …) gets the response', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    const got = await new Promise<{ status: number, type: unknown, body: string }>((resolve, reject) => {
      const chunks: Buffer[] = []
      let status = 0
      let type: unknown
      pool.dispatch({ origin: up.origin, path: '/stream?n=3', method: 'GET' }, {
        onRequestStart() {},
        onResponseStart(_c, s, headers) {
          status = s
          type = headers['content-type']
        },
        onResponseData(_c, chunk) {
          chunks.push(chunk)
        },
        onResponseEnd() {
          resolve({ status, type, body: Buffer.concat(chunks).toString() })
        },
        onResponseError(_c, err) {
          reject(err)
        },
      })
    })
    expect(got).toEqual({ status: 200, type: 'text/event-stream', body: 'data: 0\n\ndata: 1\n\ndata: 2\n\n' })
  })

  it('housekeeping: idle sessions beyond the warm one close; an old session is rotated without cutting its stream', async () => {
    const { up, pool } = await setup({ idleMs: 50 }, new Upstream(true, { maxConcurrentStreams: 1 }))
    await pool.api.warmUp()
    await sleep(50)
    await Promise.all([get(pool, up.origin, '/ok?hold=20'), get(pool, up.origin, '/ok?hold=20')])
    expect(pool.api.stats()).toMatchObject({ open: 2 })
    // The second session closes after idleMs by itself; the warm one stays.
    await expect.poll(() => pool.api.stats().open, { timeout: 1000 }).toBe(1)
    await sleep(100)
    expect(pool.api.stats().open).toBe(1)
    const long = get(pool, up.origin, '/stream?n=5&gap=40')
    await sleep(50)
    await pool.api.maintain(Date.now() + OPTS.maxAgeMs + 1)
    expect(pool.api.stats().counters.rotated).toBe(1)
    expect((await long).body).toBe(Array.from({ length: 5 }, (_, i) => `data: ${i}\n\n`).join(''))
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    await expect.poll(() => pool.api.stats().open, { timeout: 1000 }).toBe(1)
  })

  it('a pool without warm connections (an account dropped meanwhile) closes its idle session by itself', async () => {
    const { up, pool } = await setup({ warm: 0, idleMs: 50 })
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    expect(pool.api.stats()).toMatchObject({ protocol: 'h2', open: 1 })
    await expect.poll(() => up.sessions.size, { timeout: 1000 }).toBe(0)
    expect(pool.api.stats().open).toBe(0)
  })

  it('an upstream that stops offering h2 (back as HTTP/1.1 on the same port): the pool falls back to HTTP/1.1', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    await up.stop()
    const h1 = await new Upstream(false).start(up.port)
    cleanup.push(() => h1.stop())
    // The warm session's reconnect (with backoff) finds HTTP/1.1.
    await expect.poll(() => pool.api.stats().protocol, { timeout: 2000 }).toBe('http/1.1')
    expect(await get(pool, up.origin, '/ok')).toEqual({ status: 200, body: 'ok' })
    expect(h1.seen.map(s => s.version)).toEqual(['1.1'])
  })

  it('mid-switch: an upstream stops offering h2 while streams run and requests queue: the streams finish on HTTP/2, the queued go over HTTP/1.1', async () => {
    const { up, pool } = await setup({ max: 1 }, new Upstream(true, { maxConcurrentStreams: 2 }))
    await pool.api.warmUp()
    // Two long streams fill the only session; three requests wait for a stream.
    const streams = [get(pool, up.origin, '/stream?n=6&gap=100'), get(pool, up.origin, '/stream?n=6&gap=100')]
    await expect.poll(() => up.seen.length, { timeout: 2000 }).toBe(2)
    const queued = [0, 1, 2].map(() => get(pool, up.origin, '/ok'))
    await expect.poll(() => pool.api.stats().queued, { timeout: 2000 }).toBe(3)
    // The upstream now answers new connections in HTTP/1.1 only, and retires its session gracefully.
    up.stopListening()
    const h1 = await new Upstream(false).start(up.port)
    cleanup.push(() => h1.stop())
    for (const s of up.sessions) s.goaway(0)
    const whole = Array.from({ length: 6 }, (_, i) => `data: ${i}\n\n`).join('')
    const at = (p: Promise<unknown>) => p.then(v => ({ v, t: performance.now() }))
    const [s, q] = await Promise.all([Promise.all(streams.map(at)), Promise.all(queued.map(at))])
    expect(s.map(x => x.v)).toEqual([{ status: 200, body: whole }, { status: 200, body: whole }])
    expect(q.map(x => x.v)).toEqual(Array(3).fill({ status: 200, body: 'ok' }))
    // The queued ones did not wait for the old session's streams to end.
    expect(Math.max(...q.map(x => x.t))).toBeLessThan(Math.min(...s.map(x => x.t)))
    expect(up.seen.map(r => [r.version, r.completed])).toEqual([['2.0', true], ['2.0', true]])
    expect(h1.seen.map(r => r.version)).toEqual(['1.1', '1.1', '1.1'])
    expect(pool.api.stats()).toMatchObject({ protocol: 'http/1.1', queued: 0 })
  })
})
