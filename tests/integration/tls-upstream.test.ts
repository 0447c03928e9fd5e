import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic, jsonMessage, type RecordedRequest, sseEvents, TEST_TLS } from '../fixtures/anthropic-upstream'
import { HttpConnectProxy, Socks5Proxy } from '../fixtures/proxies'
import { messageBody, rawRequest, type RawResponse } from '../helpers/client'
import { TestServer } from '../helpers/server'

interface AnthropicErrorBody { type: string, error: { type: string, message: string } }
interface PoolsView { accounts: { healthy: boolean, origins: { open: number, lastError: { message: string } | null }[] }[] }

/** An account of its own, reached through a key bound to it (so every route is exercised on its own). */
interface Route { upstreamKey: string, apiKey: string }

/**
 * Add a dedicated Console account (apiUrl, proxy) and a key bound to it: the key's requests can
 * only go through this account, whatever else is active on the server.
 */
async function addRoute(server: TestServer, name: string, apiUrl: string, proxy: string | null): Promise<Route> {
  const upstreamKey = `sk-ant-api03-tls-${name}`
  const { id } = await server.createConsoleAccount(apiUrl, { name, apiKey: upstreamKey, proxy, accountType: 'dedicated' })
  const { apiKey } = await server.createKey({ name: `tls ${name}`, claudeAccountId: id })
  return { upstreamKey, apiKey }
}

const send = (server: TestServer, route: Route, stream: boolean): Promise<RawResponse> => rawRequest(`${server.url}/api/v1/messages`, {
  headers: { 'x-api-key': route.apiKey, 'content-type': 'application/json' }, body: messageBody({ stream }),
})

describe('relay to an HTTPS upstream whose CA is in UPSTREAM_CA_FILE', () => {
  const upstream = new FakeAnthropic({ tls: true })
  const server = new TestServer({ UPSTREAM_CA_FILE: TEST_TLS.caFile })
  const socks = new Socks5Proxy()
  const http = new HttpConnectProxy()
  const routes: Record<string, Route> = {}
  let port = 0

  beforeAll(async () => {
    await Promise.all([upstream.start(), socks.start(), http.start()])
    port = Number(new URL(upstream.url).port)
    expect(upstream.url).toBe(`https://127.0.0.1:${port}`)
    await server.start()
    routes.direct = await addRoute(server, 'direct', upstream.url, null)
    routes.socks = await addRoute(server, 'socks', upstream.url, socks.url())
    routes.http = await addRoute(server, 'http', upstream.url, http.url())
    // A host name: checked against the certificate's DNS name, and sent as SNI.
    routes.socksName = await addRoute(server, 'socksName', `https://localhost:${port}`, socks.url().replace(/^socks5:/, 'socks5h:'))
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all([socks.stop(), http.stop(), upstream.stop()])
  })

  /** The requests of one route as the upstream received them. */
  const received = (route: Route): RecordedRequest[] => upstream.requests.filter(r => r.headers['x-api-key'] === route.upstreamKey)

  /** Sends a streamed and a non-streamed request; each must come back exactly as the upstream sent it. */
  async function relayedBoth(route: Route): Promise<RecordedRequest[]> {
    const before = received(route).length
    const streamed = await send(server, route, true)
    expect(streamed.status, streamed.body).toBe(200)
    expect(streamed.headers['content-type']).toMatch(/^text\/event-stream/)
    expect(streamed.body).toBe(sseEvents(upstream.behaviour).join(''))
    const plain = await send(server, route, false)
    expect(plain.status, plain.body).toBe(200)
    expect(plain.body).toBe(jsonMessage(upstream.behaviour))
    const got = received(route).slice(before)
    expect(got.map(r => r.path)).toEqual(['/v1/messages', '/v1/messages'])
    return got
  }

  it('direct: stream and non-stream byte-exact; no proxy saw anything', async () => {
    const got = await relayedBoth(routes.direct!)
    const tunnelled = new Set([...socks.connections, ...http.connections].map(t => t.localPort))
    for (const r of got) expect(tunnelled.has(r.remotePort!)).toBe(false)
    // An IP-address origin: no SNI (RFC 6066), the certificate's IP SAN is what matched.
    expect(got.map(r => r.servername)).toEqual([false, false])
  })

  it.each([
    ['SOCKS5', 'socks', () => socks, '127.0.0.1', false],
    ['HTTP CONNECT', 'http', () => http, '127.0.0.1', false],
    ['socks5h with a host name', 'socksName', () => socks, 'localhost', 'localhost'],
  ] as const)('through %s: TLS inside the tunnel, byte-exact, the proxy tunnelled to the upstream', async (_, name, proxy, host, sni) => {
    const got = await relayedBoth(routes[name]!)
    const tunnels = proxy().connections.filter(t => t.target === `${host}:${port}`)
    expect(tunnels.length).toBeGreaterThanOrEqual(1)
    // Each request arrived on a connection the proxy opened to the upstream (its port is the tunnel's).
    for (const r of got) expect(tunnels.map(t => t.localPort)).toContain(r.remotePort)
    expect(got.map(r => r.servername)).toEqual([sni, sni])
  })

  it('no handshake failed at the upstream, and every proxy tunnel went to the upstream', () => {
    expect(upstream.tlsErrors).toEqual([])
    for (const t of [...socks.connections, ...http.connections]) expect([`127.0.0.1:${port}`, `localhost:${port}`]).toContain(t.target)
    expect(socks.connections.length + http.connections.length).toBeGreaterThan(0)
  })
})

describe('relay to an HTTPS upstream whose CA is not trusted', () => {
  const upstream = new FakeAnthropic({ tls: true })
  // No UPSTREAM_CA_FILE: only the system CAs, which never signed the test certificate.
  const server = new TestServer()
  const socks = new Socks5Proxy()
  const routes: Record<string, Route> = {}

  beforeAll(async () => {
    await Promise.all([upstream.start(), socks.start()])
    await server.start()
    routes.direct = await addRoute(server, 'direct', upstream.url, null)
    routes.socks = await addRoute(server, 'socks', upstream.url, socks.url())
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all([socks.stop(), upstream.stop()])
  })

  it.each([
    ['direct, non-stream', 'direct', false],
    ['direct, stream', 'direct', true],
    ['through SOCKS5, stream', 'socks', true],
  ] as const)('%s → 502 api_error in Anthropic\'s shape; the certificate was refused', async (_, name, stream) => {
    const res = await send(server, routes[name]!, stream)
    expect(res.status, res.body).toBe(502)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    const body = JSON.parse(res.body) as AnthropicErrorBody
    expect(body).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String) } })
    // Node's verification error (the leaf was signed by an unknown CA), not a refused connection.
    expect(body.error.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE/)
    // Nothing was sent over a connection the relay did not trust.
    expect(upstream.requests).toEqual([])
    // Handshakes did reach the upstream, and the relay dropped each one (Node verifies the chain
    // after the handshake and destroys the socket: the server sees a reset, not an alert).
    expect(upstream.tlsErrors.length).toBeGreaterThan(0)
    expect(new Set(upstream.tlsErrors)).toEqual(new Set(['ECONNRESET']))
  })

  it('the pool reports the refused certificate as its last error', async () => {
    const { status, body } = await server.admin<PoolsView>('GET', '/connection-pools')
    expect(status).toBe(200)
    expect(body.accounts).toHaveLength(2)
    for (const a of body.accounts) {
      expect(a.healthy).toBe(false)
      expect(a.origins[0]?.lastError?.message).toMatch(/unable to verify the first certificate/)
      expect(a.origins[0]?.open).toBe(0)
    }
  })

  it('the SOCKS5 proxy did carry the refused handshakes to the upstream', () => {
    expect(socks.connections.length).toBeGreaterThan(0)
    expect(socks.connections.every(t => t.target === `127.0.0.1:${new URL(upstream.url).port}`)).toBe(true)
  })
})
