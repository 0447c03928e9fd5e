import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic, type RecordedRequest } from '../fixtures/anthropic-upstream'
import { HttpConnectProxy, type ProxyAuth, Socks5Proxy } from '../fixtures/proxies'
import { messageBody, pollUntil, rawRequest, type RawResponse } from '../helpers/client'
import { TestServer } from '../helpers/server'

interface Latency { avg: number, p50: number, max: number, samples: number }
interface OriginView {
  origin: string
  size: number
  open: number
  idle: number
  busy: number
  queued: number
  warmTarget: number
  healthy: boolean
  counters: { connects: number, connectErrors: number, disconnects: number, reconnects: number, requests: number, requestErrors: number, rotated: number }
  lastError: { message: string, at: string } | null
  handshakeMs: Latency | null
  requestMs: Latency | null
}
interface PoolView { accountId: string, platform: string, name: string, proxy: string | null, healthy: boolean, lastCheckAt: string | null, origins: OriginView[] }
interface PoolsView { manager: Record<string, unknown>, accounts: PoolView[] }
interface HealthView { status: string, components: { connectionPools: { status: string, total: number, healthy: number, openConnections: number } } }
interface AnthropicErrorBody { type: string, error: { type: string, message: string } }

const hex = () => randomBytes(6).toString('hex')
// Passwords with characters that must be percent-encoded in a proxy URL (and decoded for the proxy).
const credentials = (user: string): ProxyAuth => ({ user, pass: `p@ss:w/${hex()}` })
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
/** The handshake delay of the slow proxies: a request that pays it is visibly slower than one that does not. */
const HANDSHAKE_MS = 400

/** The proxy URL as the relay shows it: user kept, password masked. */
const redactedUrl = (scheme: string, user: string, port: number) =>
  new RegExp(`${scheme}://${user}:(\\*+|…|\\[redacted\\])@127\\.0\\.0\\.1:${port}(?![0-9])`)

/** A secret as written and as percent-encoded in a URL: neither may show anywhere. */
const forms = (secret: string) => [secret, encodeURIComponent(secret)]

const upstream = new FakeAnthropic()
const proxies: (Socks5Proxy | HttpConnectProxy)[] = []
/** Start a proxy that afterAll stops. */
async function startProxy<P extends Socks5Proxy | HttpConnectProxy>(proxy: P, connectDelayMs = 0): Promise<P> {
  proxy.connectDelayMs = connectDelayMs
  proxies.push(proxy)
  await proxy.start()
  return proxy
}

const servers: TestServer[] = []
/** A built server with its own env; all of them start together before the first test (saves seconds). */
function testServer(env: Record<string, string>): TestServer {
  const server = new TestServer(env)
  servers.push(server)
  return server
}

beforeAll(async () => {
  await upstream.start()
  await Promise.all(servers.map(s => s.start()))
})
afterAll(async () => {
  await Promise.all(servers.map(s => s.stop()))
  await Promise.all(proxies.map(p => p.stop()))
  await upstream.stop()
})

/** An account on the fake upstream, told apart by the upstream key it sends. */
async function addAccount(server: TestServer, name: string, fields: Record<string, unknown> = {}): Promise<{ id: string, upstreamKey: string }> {
  const upstreamKey = `sk-ant-api03-${name}-${hex()}`
  const { id } = await server.createConsoleAccount(upstream.url, { name, apiKey: upstreamKey, ...fields })
  return { id, upstreamKey }
}

const upstreamSaw = (upstreamKey: string): RecordedRequest[] => upstream.requests.filter(r => r.headers['x-api-key'] === upstreamKey)

const send = (server: TestServer, apiKey: string): Promise<RawResponse> => rawRequest(`${server.url}/api/v1/messages`, {
  headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody(),
})

async function timedSend(server: TestServer, apiKey: string): Promise<{ res: RawResponse, ms: number }> {
  const t0 = performance.now()
  const res = await send(server, apiKey)
  return { res, ms: performance.now() - t0 }
}

const poolsOf = async (server: TestServer): Promise<PoolsView> => (await server.admin<PoolsView>('GET', '/connection-pools')).body
const poolOf = async (server: TestServer, id: string): Promise<PoolView | undefined> => (await poolsOf(server)).accounts.find(a => a.accountId === id)
/** Poll until the account's API pool has `open` connections (and is healthy); returns the last view. */
const poolWithOpen = (server: TestServer, id: string, open: number, ms = 5000) =>
  pollUntil(() => poolOf(server, id), p => !!p?.healthy && p.origins[0]?.open === open, ms)

async function healthOf(server: TestServer): Promise<{ body: HealthView, text: string }> {
  const text = await (await fetch(`${server.url}/health`)).text()
  return { body: JSON.parse(text) as HealthView, text }
}

/** The server process's open file descriptors (sockets included). */
function openFds(server: TestServer): number {
  // TestServer keeps its child private; the pid is all this reads of it.
  const pid = (server as unknown as { child: ChildProcess }).child.pid
  return readdirSync(`/proc/${pid}/fd`).length
}

/**
 * Asserts a 502 api_error in Anthropic's shape that tells the key holder nothing of the proxy
 * (issue 12), while the admin's view of the account names it, redacted, as the state's cause;
 * returns that cause.
 */
async function expectProxyError(server: TestServer, res: RawResponse, accountId: string, scheme: string, user: string, port: number, secrets: string[]): Promise<string> {
  expect(res.status, res.body).toBe(502)
  const body = JSON.parse(res.body) as AnthropicErrorBody
  expect(body).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String) } })
  for (const s of [`${scheme}://`, user, `:${port}`, ...secrets]) expect(res.body).not.toContain(s)
  const reason = (await server.admin<{ status: { reason?: string } }>('GET', `/api/admin/claude-accounts/${accountId}`)).body.status.reason ?? ''
  expect(reason).toMatch(redactedUrl(scheme, user, port))
  for (const s of secrets) expect(reason).not.toContain(s)
  return reason
}

describe('warm connections: opened ahead of the first request', () => {
  const server = testServer({ POOL_WARM_CONNECTIONS: '3' })

  it.each([
    ['SOCKS5', 'socks5', () => new Socks5Proxy(credentials('alice'))],
    ['HTTP CONNECT', 'http', () => new HttpConnectProxy(credentials('bob'))],
  ])('%s: 3 tunnels before any request; the first request uses one of them and opens none', async (_, scheme, make) => {
    const proxy = await startProxy(make(), HANDSHAKE_MS)
    const account = await addAccount(server, `warm-${scheme}`, { proxy: proxy.url() })
    const { apiKey } = await server.createKey({ name: `warm-${scheme}`, claudeAccountId: account.id })

    expect(await pollUntil(async () => proxy.connections.length, n => n >= 3, 5000)).toBe(3)
    expect((await poolWithOpen(server, account.id, 3))?.origins[0]?.open).toBe(3)
    expect(upstreamSaw(account.upstreamKey)).toEqual([])
    const upstreamTarget = new URL(upstream.url).host
    for (const t of proxy.connections) expect(t).toMatchObject({ target: upstreamTarget, user: proxy.auth!.user })
    const warmPorts = proxy.connections.map(t => t.localPort)

    const { res, ms } = await timedSend(server, apiKey)
    expect(res.status, res.body).toBe(200)
    expect(proxy.connections).toHaveLength(3)
    expect(proxy.refused).toEqual([])
    expect(warmPorts).toContain(upstreamSaw(account.upstreamKey)[0]?.remotePort)
    // The proxy's handshake was paid before the request: it did not wait for it.
    expect(ms).toBeLessThan(HANDSHAKE_MS)
  })

  it('/connection-pools: admin only; the account with 3 warm connections, its proxy redacted; a request is counted', async () => {
    const auth = credentials('carol')
    const proxy = await startProxy(new Socks5Proxy(auth), HANDSHAKE_MS)
    const name = `pool-view-${hex()}`
    const account = await addAccount(server, name, { proxy: proxy.url() })
    const { apiKey } = await server.createKey({ name, claudeAccountId: account.id })
    await poolWithOpen(server, account.id, 3)

    const anonymous = await fetch(`${server.url}/connection-pools`)
    expect(anonymous.status).toBe(401)
    expect(await anonymous.text()).not.toContain(name)

    const { status, body } = await server.admin<PoolsView>('GET', '/connection-pools')
    expect(status).toBe(200)
    for (const s of forms(auth.pass)) expect(JSON.stringify(body)).not.toContain(s)
    expect(body.manager).toMatchObject({ warmConnections: 3, pools: body.accounts.length })
    const view = body.accounts.find(a => a.accountId === account.id)!
    expect(view).toMatchObject({ accountId: account.id, platform: 'claude', name, healthy: true })
    expect(view.proxy).toMatch(redactedUrl('socks5', 'carol', proxy.port))
    expect(view.origins).toHaveLength(1)
    const before = view.origins[0]!
    expect(before).toMatchObject({ origin: upstream.url, size: 3, open: 3, idle: 3, busy: 0, queued: 0, warmTarget: 3, healthy: true, lastError: null })
    expect(before.counters).toMatchObject({ connectErrors: 0, requests: 0, requestErrors: 0 })
    expect(before.counters.connects).toBeGreaterThanOrEqual(3)
    // Each warm connection paid the proxy's handshake delay, and the pool measured it.
    expect(before.handshakeMs?.samples).toBeGreaterThanOrEqual(3)
    expect(before.handshakeMs?.avg).toBeGreaterThanOrEqual(HANDSHAKE_MS - 5)

    expect((await send(server, apiKey)).status).toBe(200)
    const after = (await poolOf(server, account.id))!.origins[0]!
    expect(after.counters.requests).toBe(before.counters.requests + 1)
    expect(after.counters.connects).toBe(before.counters.connects)
    expect(after.requestMs?.samples).toBe(1)
    expect(after.open).toBe(3)

    // /health: totals only, no account names, no proxy hosts or users.
    const pools = await poolsOf(server)
    const health = await healthOf(server)
    expect(health.body.status).toBe('healthy')
    expect(health.body.components.connectionPools).toEqual({
      status: 'healthy', total: pools.accounts.length, healthy: pools.accounts.length,
      openConnections: pools.accounts.flatMap(a => a.origins).reduce((n, o) => n + o.open, 0),
      busyConnections: pools.accounts.flatMap(a => a.origins).reduce((n, o) => n + o.busy, 0),
      queuedRequests: 0,
    })
    expect(health.body.components.connectionPools.openConnections).toBeGreaterThanOrEqual(3)
    for (const s of [name, 'carol', '127.0.0.1', String(proxy.port), ...forms(auth.pass)]) expect(health.text).not.toContain(s)
  })

  it('disabling an account closes its pool and its tunnels; enabling it warms a new one', async () => {
    const proxy = await startProxy(new Socks5Proxy(credentials('dave')))
    const account = await addAccount(server, 'toggled', { proxy: proxy.url() })
    const { apiKey } = await server.createKey({ name: 'toggled', claudeAccountId: account.id })
    await poolWithOpen(server, account.id, 3)
    expect((await send(server, apiKey)).status).toBe(200)
    expect(proxy.openTunnels).toBe(3)

    expect((await server.admin('PUT', `/api/admin/claude-accounts/${account.id}`, { isActive: false })).status).toBe(200)
    const gone = await pollUntil(async () => ({ pool: await poolOf(server, account.id), open: proxy.openTunnels }), v => !v.pool && v.open === 0, 5000)
    expect(gone).toEqual({ pool: undefined, open: 0 })
    const tunnelsBefore = proxy.connections.length

    expect((await server.admin('PUT', `/api/admin/claude-accounts/${account.id}`, { isActive: true })).status).toBe(200)
    const warm = await poolWithOpen(server, account.id, 3)
    expect(warm?.origins[0]).toMatchObject({ open: 3, warmTarget: 3 })
    expect(await pollUntil(async () => proxy.openTunnels, n => n === 3, 2000)).toBe(3)
    expect(proxy.connections).toHaveLength(tunnelsBefore + 3)
    const fresh = proxy.connections.slice(tunnelsBefore).map(t => t.localPort)

    expect((await send(server, apiKey)).status).toBe(200)
    expect(fresh).toContain(upstreamSaw(account.upstreamKey).at(-1)?.remotePort)
    expect(proxy.connections).toHaveLength(tunnelsBefore + 3)
  })
})

describe('POOL_WARM_CONNECTIONS=0: nothing is opened before a request', () => {
  const server = testServer({ POOL_WARM_CONNECTIONS: '0' })

  it('the first request opens the only tunnel and pays the proxy handshake', async () => {
    const proxy = await startProxy(new Socks5Proxy(credentials('erin')), HANDSHAKE_MS)
    const account = await addAccount(server, 'cold', { proxy: proxy.url() })
    const { apiKey } = await server.createKey({ name: 'cold', claudeAccountId: account.id })

    const pool = await pollUntil(() => poolOf(server, account.id), p => !!p, 3000)
    expect(pool?.origins[0]).toMatchObject({ size: 0, open: 0, warmTarget: 0 })
    // Long enough for a warm-up to have reached the proxy and passed its delay.
    await sleep(2 * HANDSHAKE_MS)
    expect(proxy.connections).toEqual([])

    const { res, ms } = await timedSend(server, apiKey)
    expect(res.status, res.body).toBe(200)
    expect(proxy.connections).toHaveLength(1)
    expect(upstreamSaw(account.upstreamKey).map(r => r.remotePort)).toEqual([proxy.connections[0]!.localPort])
    expect(ms).toBeGreaterThanOrEqual(HANDSHAKE_MS - 5)
  })
})

describe('proxy faults and recovery', () => {
  // A proxy fault cools the account down (as in production); reconnects back off at most 2 s.
  const server = testServer({ POOL_WARM_CONNECTIONS: '3', POOL_RECONNECT_MAX_SECONDS: '2', ACCOUNT_COOLDOWN_SECONDS: '30' })
  const created: string[] = []
  let apiKey = ''

  /** Accounts start inactive: each test makes exactly its own accounts active. */
  async function addInactive(name: string, fields: Record<string, unknown> = {}) {
    const account = await addAccount(server, name, { isActive: false, ...fields })
    created.push(account.id)
    return account
  }
  async function only(...ids: string[]): Promise<void> {
    for (const id of created) {
      expect((await server.admin('PUT', `/api/admin/claude-accounts/${id}`, { isActive: ids.includes(id) })).status).toBe(200)
    }
  }
  const stateOf = async (id: string) => (await server.admin<{ status: { state: string } }>('GET', `/api/admin/claude-accounts/${id}`)).body.status.state

  beforeAll(async () => {
    apiKey = (await server.createKey({ name: 'recovery' })).apiKey
  })

  it('proxy down: 502 naming the proxy, pool unhealthy, /health degraded; back on the same port: the pool heals by itself', async () => {
    const auth = credentials('frank')
    const proxy = await startProxy(new Socks5Proxy(auth))
    const account = await addInactive('recovering', { proxy: proxy.url() })
    await only(account.id)
    await poolWithOpen(server, account.id, 3)
    const port = proxy.port

    await proxy.stop()
    const down = await pollUntil(() => poolOf(server, account.id), p => p?.healthy === false, 5000)
    expect(down).toMatchObject({ healthy: false, origins: [{ healthy: false, open: 0 }] })
    expect(down?.origins[0]?.lastError?.message).toMatch(/ECONNREFUSED|refused/)
    expect(down?.origins[0]?.counters.connectErrors).toBeGreaterThanOrEqual(1)
    for (const s of forms(auth.pass)) expect(JSON.stringify(down)).not.toContain(s)
    const health = await healthOf(server)
    expect(health.body.status).toBe('degraded')
    expect(health.body.components.connectionPools).toMatchObject({ status: 'degraded', total: 1, healthy: 0, openConnections: 0 })

    const message = await expectProxyError(server, await send(server, apiKey), account.id, 'socks5', 'frank', port, forms(auth.pass))
    expect(message).toMatch(/refused/)
    expect(upstreamSaw(account.upstreamKey)).toEqual([])
    expect(await stateOf(account.id)).toBe('cooldown')
    await server.resetAccountStates()

    await proxy.start()
    expect(proxy.port).toBe(port)
    // No client request in between: the pool's own reconnects (backoff capped at 2 s) bring it back.
    const healed = await poolWithOpen(server, account.id, 3, 8000)
    expect(healed).toMatchObject({ healthy: true, origins: [{ healthy: true, open: 3 }] })
    expect(healed?.origins[0]?.counters.reconnects).toBeGreaterThanOrEqual(1)
    expect(upstreamSaw(account.upstreamKey)).toEqual([])
    expect(proxy.openTunnels).toBe(3)
    expect((await healthOf(server)).body.components.connectionPools).toMatchObject({ status: 'healthy', total: 1, healthy: 1 })

    const tunnels = proxy.connections.length
    const res = await send(server, apiKey)
    expect(res.status, res.body).toBe(200)
    expect(proxy.connections).toHaveLength(tunnels)
    expect(proxy.connections.map(t => t.localPort)).toContain(upstreamSaw(account.upstreamKey)[0]?.remotePort)
    expect(server.output).not.toContain(auth.pass)
  })

  it('two accounts, A\'s proxy down: B (direct) serves, when A is tried first and when A is passed over', async () => {
    const proxy = await startProxy(new Socks5Proxy(credentials('grace')))
    const a = await addInactive('A-proxied', { proxy: proxy.url(), priority: 1 })
    const b = await addInactive('B-direct', { priority: 2 })
    await only(a.id, b.id)
    await Promise.all([poolWithOpen(server, a.id, 3), poolWithOpen(server, b.id, 3)])
    await proxy.stop()
    await pollUntil(() => poolOf(server, a.id), p => p?.healthy === false, 5000)

    // A key bound to A tries A first; its proxy fails, and the shared pool (B) answers.
    const bound = await server.createKey({ name: 'bound-to-A', claudeAccountId: a.id, dedicatedFallback: true })
    const res = await send(server, bound.apiKey)
    expect(res.status, res.body).toBe(200)
    expect(upstreamSaw(b.upstreamKey)).toHaveLength(1)
    expect(upstreamSaw(a.upstreamKey)).toEqual([])
    expect(await stateOf(a.id)).toBe('cooldown')
    await server.resetAccountStates()

    // The scheduler puts an account whose pool cannot connect last, though A has the better
    // priority. It re-reads pool health at most twice a second: let that pass first.
    await sleep(600)
    for (let i = 0; i < 2; i++) expect((await send(server, apiKey)).status).toBe(200)
    expect(upstreamSaw(b.upstreamKey)).toHaveLength(3)
    expect(upstreamSaw(a.upstreamKey)).toEqual([])
    expect(await stateOf(a.id)).toBe('active')
  })

  it('a wrong proxy password: 502 naming the proxy, a refusal at the proxy, the account cools down, the key is not blamed', async () => {
    const proxy = await startProxy(new Socks5Proxy(credentials('heidi')))
    const wrong = { user: 'heidi', pass: `wr0ng@pass:${hex()}` }
    const bad = await addInactive('wrong-password', { proxy: proxy.url(wrong) })
    const good = await addInactive('working')
    const key = await server.createKey({ name: 'not-blamed' })
    await only(bad.id)

    const message = await expectProxyError(server, await send(server, key.apiKey), bad.id, 'socks5', 'heidi', proxy.port, [...forms(wrong.pass), ...forms(proxy.auth!.pass)])
    expect(message).toMatch(/credentials/)
    expect(proxy.refused.length).toBeGreaterThanOrEqual(1)
    expect(proxy.refused.every(r => r.user === 'heidi')).toBe(true)
    expect(proxy.connections).toEqual([])
    expect(upstreamSaw(bad.upstreamKey)).toEqual([])
    expect(await stateOf(bad.id)).toBe('cooldown')
    const pool = await poolOf(server, bad.id)
    expect(pool?.healthy).toBe(false)
    for (const s of forms(wrong.pass)) expect(JSON.stringify(pool)).not.toContain(s)

    await only(bad.id, good.id)
    const res = await send(server, key.apiKey)
    expect(res.status, res.body).toBe(200)
    expect(upstreamSaw(good.upstreamKey)).toHaveLength(1)
    const view = await server.admin<{ isActive: boolean }>('GET', `/api/admin/api-keys/${key.id}`)
    expect(view.body.isActive).toBe(true)
    expect(server.output).not.toContain(wrong.pass)
  })
})

describe('no leaks: 100 pools created and deleted', () => {
  const server = testServer({ POOL_WARM_CONNECTIONS: '2' })

  it('the server\'s file descriptors return to the baseline and no pool is left', async () => {
    await poolsOf(server) // logs in: the admin connection is part of the baseline
    const baseline = openFds(server)
    const ids = new Set<string>()
    // One at a time: parallel admin calls would open (and keep alive) extra connections to the server.
    for (let i = 0; i < 100; i++) ids.add((await server.createConsoleAccount(upstream.url, { name: `leak-${i}` })).id)
    const warm = await pollUntil(() => poolsOf(server), v => v.accounts.filter(a => ids.has(a.accountId) && a.origins[0]?.open === 2).length === 100, 15_000)
    expect(warm.accounts.filter(a => ids.has(a.accountId) && a.origins[0]?.open === 2)).toHaveLength(100)
    // The count does see the pools' sockets.
    expect(openFds(server)).toBeGreaterThanOrEqual(baseline + 200)

    for (const id of ids) expect((await server.admin('DELETE', `/api/admin/claude-accounts/${id}`)).status).toBe(200)
    const after = await pollUntil(
      async () => ({ fds: openFds(server), listed: (await poolsOf(server)).accounts.filter(a => ids.has(a.accountId)).length }),
      v => v.fds <= baseline + 5 && v.listed === 0,
      10_000,
    )
    expect(after.listed).toBe(0)
    expect(after.fds).toBeLessThanOrEqual(baseline + 5)
  })
})
