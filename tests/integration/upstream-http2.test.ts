import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic, jsonMessage, sseEvents, TEST_TLS } from '../fixtures/anthropic-upstream'
import { HttpConnectProxy, Socks5Proxy } from '../fixtures/proxies'
import { messageBody, rawRequest } from '../helpers/client'
import { TestServer } from '../helpers/server'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

interface PoolsView { manager: { http2: string }, accounts: { accountId: string, origins: { protocol: string | null, open: number, streams?: number, counters: { connects: number } }[] }[] }

/**
 * Anthropic's and Google's APIs offer HTTP/2. With UPSTREAM_HTTP2=auto (the default) the relay
 * speaks it to them through node:http2 (docs/operations.md, "HTTP/2 to upstreams"): many streams
 * on one connection, and a graceful GOAWAY — which edges send when they recycle connections —
 * lets the streams in flight finish (undici's own HTTP/2 cut them all: the reason it is not used).
 */
describe('an upstream that offers HTTP/2 (UPSTREAM_HTTP2 default: auto)', () => {
  const upstream = new FakeAnthropic({ http2: true })
  const server = new TestServer({ UPSTREAM_CA_FILE: TEST_TLS.caFile })
  let apiKey = ''
  /** The client port of the connection the GOAWAY closed. */
  let goneAway = 0

  beforeAll(async () => {
    await upstream.start()
    await server.start()
    await server.createConsoleAccount(upstream.url)
    apiKey = (await server.createKey({ name: 'h2' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })
  beforeEach(() => upstream.reset())

  const send = (stream = true) => rawRequest(`${server.url}/api/v1/messages`, {
    headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream }),
  })
  const pools = async () => (await server.admin<PoolsView>('GET', '/connection-pools')).body

  it('8 concurrent streams on ONE HTTP/2 connection; a graceful GOAWAY mid-answer: all 8 finish byte-exact', async () => {
    upstream.behaviour.delayMs = 100
    const expected = sseEvents(upstream.behaviour).join('')
    const streams = Array.from({ length: 8 }, () => send())
    await expect.poll(() => upstream.requests.length, { timeout: 5000 }).toBe(8)
    const during = (await pools()).accounts[0]!.origins[0]!
    expect(during).toMatchObject({ protocol: 'h2', open: 1, streams: 8 })
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${await server.adminToken()}` } })).text()
    expect(metrics).toMatch(/^crs_pool_http2_streams 8$/m)
    await sleep(250)
    upstream.goAway()
    const answers = await Promise.all(streams)
    for (const a of answers) {
      expect(a.status, a.body).toBe(200)
      expect(a.body).toBe(expected)
    }
    expect(upstream.requests.map(r => r.httpVersion)).toEqual(Array(8).fill('2.0'))
    expect(new Set(upstream.requests.map(r => r.remotePort)).size).toBe(1)
    expect(upstream.requests.every(r => r.completed && !r.aborted)).toBe(true)
    goneAway = upstream.requests[0]!.remotePort!
    expect((await pools()).manager.http2).toBe('auto')
  })

  it('requests after the GOAWAY are served, on a new connection', async () => {
    const a = await send()
    expect(a.body).toBe(sseEvents(upstream.behaviour).join(''))
    const b = await send(false)
    expect(b.body).toBe(jsonMessage(upstream.behaviour))
    expect(upstream.requests.map(r => r.httpVersion)).toEqual(['2.0', '2.0'])
    expect(upstream.requests[0]!.remotePort).not.toBe(goneAway)
    expect((await pools()).accounts[0]!.origins[0]!).toMatchObject({ protocol: 'h2', open: 1, counters: { connects: 2 } })
  })

  it('a client that leaves cancels its upstream stream', async () => {
    upstream.behaviour.delayMs = 100
    upstream.behaviour.deltas = 30
    const ac = new AbortController()
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', signal: ac.signal, body: messageBody({ stream: true }),
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
    })
    const reader = res.body!.getReader()
    expect(Buffer.from((await reader.read()).value!).toString('utf8')).toContain('event: message_start')
    ac.abort()
    await reader.read().catch(() => { /* aborted, as intended */ })
    // The whole stream would take ~3.5 s; the cancel must reach the upstream well before that.
    expect(await upstream.waitForAbort(1500)).toBe(true)
    expect(upstream.last()).toMatchObject({ httpVersion: '2.0', aborted: true, completed: false })
  })

  it('a connection dropped mid-stream: the client gets an SSE error event; the next request is served on a new connection', async () => {
    upstream.behaviour.mode = 'drop'
    upstream.behaviour.resetAfter = 3
    upstream.behaviour.delayMs = 20
    const cut = await send()
    expect(cut.status).toBe(200)
    expect(cut.body.startsWith(sseEvents(upstream.behaviour).slice(0, 3).join(''))).toBe(true)
    expect(cut.body).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/)
    expect(cut.body).not.toContain('message_stop')
    upstream.behaviour.mode = 'ok'
    const next = await send()
    expect(next.body).toBe(sseEvents(upstream.behaviour).join(''))
    expect(upstream.requests[1]!.remotePort).not.toBe(upstream.requests[0]!.remotePort)
  })
})

describe('UPSTREAM_HTTP2=off: HTTP/1.1 to the same upstream, as before', () => {
  const upstream = new FakeAnthropic({ http2: true })
  const server = new TestServer({ UPSTREAM_CA_FILE: TEST_TLS.caFile, UPSTREAM_HTTP2: 'off' })
  let apiKey = ''

  beforeAll(async () => {
    await upstream.start()
    await server.start()
    await server.createConsoleAccount(upstream.url)
    apiKey = (await server.createKey({ name: 'h1' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })

  it('8 concurrent streams: HTTP/1.1, one connection each, byte-exact', async () => {
    upstream.behaviour.delayMs = 30
    const answers = await Promise.all(Array.from({ length: 8 }, () => rawRequest(`${server.url}/api/v1/messages`, {
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
    })))
    for (const a of answers) expect(a.body).toBe(sseEvents(upstream.behaviour).join(''))
    expect(upstream.requests.map(r => r.httpVersion)).toEqual(Array(8).fill('1.1'))
    expect(new Set(upstream.requests.map(r => r.remotePort)).size).toBe(8)
    expect(upstream.h2Sessions.size).toBe(0)
  })
})

describe('failover: an HTTP/2 connection dropped before the answer', () => {
  const upA = new FakeAnthropic({ http2: true })
  const upB = new FakeAnthropic({ http2: true })
  const server = new TestServer({ UPSTREAM_CA_FILE: TEST_TLS.caFile, ACCOUNT_COOLDOWN_SECONDS: '30' })
  let a = ''
  let apiKey = ''

  beforeAll(async () => {
    await Promise.all([upA.start(), upB.start()])
    await server.start()
    a = (await server.createConsoleAccount(upA.url, { name: 'A', priority: 1 })).id
    await server.createConsoleAccount(upB.url, { name: 'B', priority: 2 })
    apiKey = (await server.createKey({ name: 'h2 failover' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all([upA.stop(), upB.stop()])
  })

  it('A drops the connection before headers: B serves the same request; A cools down', async () => {
    upA.behaviour.mode = 'drop'
    upA.behaviour.resetAfter = 0
    const res = await rawRequest(`${server.url}/api/v1/messages`, {
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
    })
    expect(res.status, res.body).toBe(200)
    expect(res.body).toBe(sseEvents(upB.behaviour).join(''))
    expect(upA.requests.map(r => r.httpVersion)).toEqual(['2.0'])
    expect(upB.requests.map(r => r.httpVersion)).toEqual(['2.0'])
    const view = await server.admin<{ status: { state: string } }>('GET', `/api/admin/claude-accounts/${a}`)
    expect(view.body.status.state).toBe('cooldown')
  })
})

describe('HTTP/2 through the account\'s proxy: TLS and h2 inside the tunnel', () => {
  const upstream = new FakeAnthropic({ http2: true })
  const socks = new Socks5Proxy()
  const http = new HttpConnectProxy()
  const server = new TestServer({ UPSTREAM_CA_FILE: TEST_TLS.caFile })
  const keys: Record<string, string> = {}

  beforeAll(async () => {
    await Promise.all([upstream.start(), socks.start(), http.start()])
    await server.start()
    for (const [name, proxy] of [['socks', socks.url()], ['http', http.url()]] as const) {
      const { id } = await server.createConsoleAccount(upstream.url, { name, proxy, apiKey: `sk-ant-api03-h2-${name}`, accountType: 'dedicated' })
      keys[name] = (await server.createKey({ name: `h2 ${name}`, claudeAccountId: id })).apiKey
    }
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all([socks.stop(), http.stop(), upstream.stop()])
  })

  it.each([['SOCKS5', 'socks', () => socks], ['HTTP CONNECT', 'http', () => http]] as const)('%s: 4 concurrent streams on one tunnel, byte-exact', async (_, name, proxy) => {
    const answers = await Promise.all(Array.from({ length: 4 }, () => rawRequest(`${server.url}/api/v1/messages`, {
      headers: { 'x-api-key': keys[name]!, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
    })))
    for (const r of answers) expect(r.body).toBe(sseEvents(upstream.behaviour).join(''))
    const got = upstream.requests.filter(r => r.headers['x-api-key'] === `sk-ant-api03-h2-${name}`)
    expect(got.map(r => r.httpVersion)).toEqual(Array(4).fill('2.0'))
    const ports = new Set(got.map(r => r.remotePort))
    expect(ports.size).toBe(1)
    expect(proxy().connections.map(t => t.localPort)).toContain([...ports][0])
  })
})
