import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic, sseEvents } from '../fixtures/anthropic-upstream'
import { messageBody, rawRequest } from '../helpers/client'
import { TestServer } from '../helpers/server'

// The socket bounds of server/entry.ts (docs/architecture.md "Connection limits"), with small
// values so a test sees each one act. Node's defaults (headers 60 s, request 300 s, keep-alive 5 s,
// no connection cap, 2000 headers) would let every "cut" below wait far past its bound.

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** A raw TCP connection that records what the server sent and when the server closed it. */
class RawConnection {
  data = ''
  closedAt: number | null = null
  readonly socket: Socket
  private readonly closed: Promise<void>

  constructor(url: string) {
    const { hostname, port } = new URL(url)
    this.socket = connect(Number(port), hostname)
    this.socket.on('data', (d: Buffer) => this.data += d.toString('latin1'))
    this.socket.on('error', () => { /* a reset is one way for the server to close */ })
    this.closed = new Promise(r => this.socket.once('close', () => {
      this.closedAt = Date.now()
      r()
    }))
  }

  async ready(): Promise<this> {
    if (this.socket.connecting) await new Promise(r => this.socket.once('connect', r))
    return this
  }

  /** Resolves once the server has sent something (a response), or after `ms`. */
  async answered(ms: number): Promise<string> {
    const until = Date.now() + ms
    while (!this.data && this.closedAt === null && Date.now() < until) await sleep(10)
    return this.data
  }

  /** ms from `since` until the server closed the connection, or null when it was still open after `ms`. */
  async closedWithin(ms: number, since = Date.now()): Promise<number | null> {
    await Promise.race([this.closed, sleep(ms)])
    return this.closedAt === null ? null : this.closedAt - since
  }

  /** Writes `text` one byte every `everyMs` until the server closes the connection (or the text ends). */
  dribble(text: string, everyMs: number): void {
    let i = 0
    const timer = setInterval(() => {
      if (this.closedAt !== null || i >= text.length) return void clearInterval(timer)
      this.socket.write(text[i++]!)
    }, everyMs)
    this.socket.once('close', () => clearInterval(timer))
  }

  close(): void {
    this.socket.destroy()
  }
}

describe('socket bounds', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer({
    HEADERS_TIMEOUT_SECONDS: '2', REQUEST_TIMEOUT_SECONDS: '3', KEEP_ALIVE_TIMEOUT_SECONDS: '1', MAX_HEADERS_COUNT: '20',
  })
  let apiKey = ''
  const open: RawConnection[] = []
  const connection = async (): Promise<RawConnection> => {
    const c = await new RawConnection(server.url).ready()
    open.push(c)
    return c
  }

  beforeAll(async () => {
    await upstream.start()
    await server.start()
    await server.createConsoleAccount(upstream.url)
    apiKey = (await server.createKey({ name: 'bounds' })).apiKey
  })
  afterAll(async () => {
    for (const c of open) c.close()
    await server.stop()
    await upstream.stop()
  })

  it('listens with a backlog of LISTEN_BACKLOG (4096, capped by the kernel\'s somaxconn), not Node\'s 511', () => {
    // A burst of new connections beyond the backlog loses SYNs: each such client waits ≥ 1 s to retry.
    const port = new URL(server.url).port
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
    // `ss -ltn`: for a listening socket, Send-Q is its backlog.
    const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim().split('\n')[0]!
    expect(Number(line.split(/\s+/)[2])).toBe(Math.min(4096, somaxconn))
  })

  it('closes a connection whose headers never finish (HEADERS_TIMEOUT_SECONDS=2)', async () => {
    const c = await connection()
    const start = Date.now()
    c.dribble(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}`, 50)
    const after = await c.closedWithin(8000, start)
    expect(after, 'still open 8 s after the first byte').not.toBeNull()
    // Node checks once a second: closed between the bound and the bound + 1 s (+ slack for a busy CI).
    expect(after!).toBeGreaterThanOrEqual(1900)
    expect(after!).toBeLessThan(5500)
    expect(c.data).toMatch(/^(|HTTP\/1\.1 408 )/)
  })

  it('closes a connection whose body dribbles in (REQUEST_TIMEOUT_SECONDS=3)', async () => {
    const c = await connection()
    const start = Date.now()
    const body = messageBody()
    c.socket.write(`POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${apiKey}\r\n`
      + `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`)
    c.dribble(body, 100)
    const after = await c.closedWithin(9000, start)
    expect(after, 'still open 9 s after the headers').not.toBeNull()
    expect(after!).toBeGreaterThanOrEqual(2900)
    expect(after!).toBeLessThan(6500)
    expect(c.data).toMatch(/^(|HTTP\/1\.1 408 )/)
    expect(upstream.requests).toHaveLength(0)
  })

  it('closes an idle keep-alive connection (KEEP_ALIVE_TIMEOUT_SECONDS=1)', async () => {
    const c = await connection()
    c.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    expect(await c.answered(3000)).toMatch(/^HTTP\/1\.1 200 /)
    const answeredAt = Date.now()
    expect(c.data).toMatch(/\r\nkeep-alive: timeout=1\r\n/i)
    const after = await c.closedWithin(5000, answeredAt)
    expect(after, 'still open 5 s after the answer').not.toBeNull()
    // Node closes 1 s after the timeout it announces, so a client reusing the socket closes first
    // (with Node's default of 5 s: after 6 s).
    expect(after!).toBeGreaterThanOrEqual(800)
    expect(after!).toBeLessThan(4000)
  })

  it('bounds the headers at MAX_HEADERS_COUNT=20 (Node 20 keeps the first 20 and goes on; Node 24 answers 431)', async () => {
    const fillers = Array.from({ length: 25 }, (_, i) => `x-filler-${i}: ${i}\r\n`).join('')
    const ask = async (head: string): Promise<string> => {
      const c = await connection()
      c.socket.write(`GET /api/v1/key-info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${head}\r\n`)
      await c.closedWithin(5000)
      return c.data
    }
    // Node 20 drops the headers past the count and goes on: the key as the 28th header is not seen
    // (401), as the 3rd it is (200). Node 24 refuses a request with more headers than that (431).
    const major = Number(process.versions.node.split('.')[0])
    const late = await ask(`${fillers}x-api-key: ${apiKey}\r\n`)
    const early = await ask(`x-api-key: ${apiKey}\r\n${fillers}`)
    if (major >= 24) {
      expect(late).toMatch(/^HTTP\/1\.1 431 /)
      expect(early).toMatch(/^HTTP\/1\.1 431 /)
    }
    else if (major === 20) {
      expect(late).toMatch(/^HTTP\/1\.1 401 /)
      expect(early).toMatch(/^HTTP\/1\.1 200 /)
    }
    else expect([late, early].every(r => /^HTTP\/1\.1 (200|401|431) /.test(r))).toBe(true)
  })

  it('answers 431 to a header block over 16 KiB (Node\'s maxHeaderSize)', async () => {
    const res = await rawRequest(`${server.url}/health`, { method: 'GET', headers: { 'x-big': 'a'.repeat(20 * 1024) } })
    expect(res.status).toBe(431)
    // Just under the bound is served.
    expect((await rawRequest(`${server.url}/health`, { method: 'GET', headers: { 'x-big': 'a'.repeat(15 * 1024) } })).status).toBe(200)
  })

  it('lets a streamed response run longer than REQUEST_TIMEOUT_SECONDS (the bound covers the request only)', async () => {
    upstream.behaviour.delayMs = 250
    upstream.behaviour.deltas = 18 // 24 events: about 6 s, twice the request timeout
    const expected = sseEvents(upstream.behaviour).join('')
    const start = Date.now()
    const res = await rawRequest(`${server.url}/api/v1/messages`, {
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
    })
    expect(Date.now() - start).toBeGreaterThan(4500)
    expect(res.status).toBe(200)
    expect(res.body).toBe(expected)
  })
})

describe('connection cap', () => {
  const server = new TestServer({ MAX_CONNECTIONS: '4', KEEP_ALIVE_TIMEOUT_SECONDS: '1' })
  const held: RawConnection[] = []

  beforeAll(async () => {
    await server.start()
    // The start-up polls left keep-alive sockets behind: let the server close them (1 s idle + Node's 1 s).
    await sleep(2500)
  })
  afterAll(async () => {
    for (const c of held) c.close()
    await server.stop()
  })

  it('MAX_CONNECTIONS=4: a fifth connection is closed while four are held, and served once one ends', async () => {
    for (let i = 0; i < 4; i++) held.push(await new RawConnection(server.url).ready())
    const fifth = await new RawConnection(server.url).ready()
    held.push(fifth)
    expect(await fifth.closedWithin(2000), 'the fifth connection stayed open').not.toBeNull()
    expect(fifth.data).toBe('')
    // The four held (idle, before any header) are still open.
    expect(held.slice(0, 4).map(c => c.closedAt)).toEqual([null, null, null, null])

    held[0]!.close()
    await held[0]!.closedWithin(1000)
    let status = 0
    for (let i = 0; i < 20 && status !== 200; i++) {
      status = await rawRequest(`${server.url}/health`, { method: 'GET' }).then(r => r.status, () => 0)
      if (status !== 200) await sleep(100)
    }
    expect(status).toBe(200)
  })
})
