import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic, jsonMessage, type RecordedRequest, sseEvents } from '../fixtures/anthropic-upstream'
import { HttpConnectProxy, PROXY_REFUSAL_TEXT, type ProxyAuth, Socks5Proxy } from '../fixtures/proxies'
import { messageBody, rawRequest, type RawResponse } from '../helpers/client'
import { freePort, TestServer } from '../helpers/server'

interface AnthropicErrorBody { type: string, error: { type: string, message: string } }
interface AccountView { id: string, name: string, proxy: string | null }

const hex = () => randomBytes(6).toString('hex')
// Passwords with characters that must be percent-encoded in a proxy URL (and decoded for the proxy).
const credentials = (user: string): ProxyAuth => ({ user, pass: `p@ss:w/${hex()}` })

describe('relay through per-account proxies', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer()
  const proxies = {
    socks1: new Socks5Proxy(credentials('alice')),
    socks2: new Socks5Proxy(credentials('carol')),
    socksOpen: new Socks5Proxy(),
    http1: new HttpConnectProxy(credentials('bob')),
    http2: new HttpConnectProxy(credentials('dave')),
    httpOpen: new HttpConnectProxy(),
  }
  type ProxyName = keyof typeof proxies
  const allProxies = Object.values(proxies)
  const wrongPass = `wr0ng@pass:${hex()}`
  /** Every proxy password this file uses, as written and as percent-encoded in a URL. */
  const secrets = () => [...allProxies.map(p => p.auth?.pass), wrongPass]
    .filter((s): s is string => !!s)
    .flatMap(s => [s, encodeURIComponent(s)])

  /** Accounts by name: id and the upstream key that identifies them at the fake upstream. */
  const accounts: Record<string, { id: string, upstreamKey: string }> = {}
  const active = new Set<string>()
  let apiKey = ''
  let upstreamPort = 0

  async function addAccount(name: string, proxy: string | null, apiUrl = upstream.url): Promise<void> {
    const upstreamKey = `sk-ant-api03-${name}-${hex()}`
    const { id } = await server.createConsoleAccount(apiUrl, { name, apiKey: upstreamKey, proxy, isActive: false })
    accounts[name] = { id, upstreamKey }
  }

  async function putAccount(name: string, patch: Record<string, unknown>): Promise<AccountView> {
    const res = await server.admin<AccountView>('PUT', `/api/admin/claude-accounts/${accounts[name]!.id}`, patch)
    expect(res.status).toBe(200)
    return res.body
  }

  /**
   * Make exactly these accounts active (each PUT even if already active; an unchanged proxy keeps
   * the account's warm connections, which `earlierTunnels` remembers).
   */
  async function only(...names: string[]): Promise<void> {
    for (const name of active) {
      if (!names.includes(name)) await putAccount(name, { isActive: false })
    }
    active.clear()
    for (const name of names) {
      await putAccount(name, { isActive: true })
      active.add(name)
    }
  }

  const send = (stream: boolean): Promise<RawResponse> => rawRequest(`${server.url}/api/v1/messages`, {
    headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream }),
  })

  /** Sends a request and asserts the client got exactly upstream's bytes. */
  async function relayed(stream: boolean): Promise<void> {
    const res = await send(stream)
    expect(res.status, res.body).toBe(200)
    expect(res.body).toBe(stream ? sseEvents(upstream.behaviour).join('') : jsonMessage(upstream.behaviour))
  }

  /**
   * Tunnels recorded before a reset, by the local port they left from: an account that stays active
   * keeps its warm connections across a reset, and its requests still travel through them.
   */
  const earlierTunnels = new Map<number, ProxyName>()
  function resetProxies(): void {
    for (const [name, p] of Object.entries(proxies)) {
      for (const t of p.connections) earlierTunnels.set(t.localPort, name as ProxyName)
      p.reset()
    }
  }

  /** Which proxy carried a request the upstream received: the one whose tunnel left from its remote port. */
  function routeOf(req: RecordedRequest): ProxyName | 'direct' {
    const hit = Object.entries(proxies).find(([, p]) => p.connections.some(t => t.localPort === req.remotePort))
    return hit ? hit[0] as ProxyName : earlierTunnels.get(req.remotePort ?? -1) ?? 'direct'
  }

  const accountOf = (req: RecordedRequest) => Object.keys(accounts).find(n => accounts[n]!.upstreamKey === req.headers['x-api-key'])

  /** No proxy but these recorded a tunnel or a refusal. */
  function expectQuietExcept(...used: ProxyName[]): void {
    for (const [name, p] of Object.entries(proxies)) {
      if (used.includes(name as ProxyName)) continue
      expect({ name, connections: p.connections, refused: p.refused }).toEqual({ name, connections: [], refused: [] })
    }
  }

  beforeAll(async () => {
    await upstream.start()
    upstreamPort = Number(new URL(upstream.url).port)
    await Promise.all(allProxies.map(p => p.start()))
    await server.start()
    apiKey = (await server.createKey({ name: 'proxy' })).apiKey
    for (const name of Object.keys(proxies) as ProxyName[]) await addAccount(name, proxies[name].url())
    await addAccount('direct', null)
    // Domain-name targets: socks5h:// hands the name to the proxy (address type 3), as does CONNECT.
    await addAccount('socksDomain', proxies.socks1.url().replace(/^socks5:/, 'socks5h:'), `http://localhost:${upstreamPort}`)
    await addAccount('httpDomain', proxies.http1.url(), `http://localhost:${upstreamPort}`)
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all(allProxies.map(p => p.stop()))
    await upstream.stop()
  })
  beforeEach(() => {
    upstream.reset()
    resetProxies()
  })
  // An upstream error in one test leaves the account cooling down: give every test a clean pool.
  beforeEach(() => server.resetAccountStates())

  describe('an account with a proxy sends its traffic through it', () => {
    it.each([
      ['SOCKS5 with user:pass', 'socks1', 'socks1', 'alice', '127.0.0.1'],
      ['HTTP CONNECT with user:pass', 'http1', 'http1', 'bob', '127.0.0.1'],
      ['SOCKS5 without auth', 'socksOpen', 'socksOpen', null, '127.0.0.1'],
      ['HTTP CONNECT without auth', 'httpOpen', 'httpOpen', null, '127.0.0.1'],
      ['socks5h with a domain-name target', 'socksDomain', 'socks1', 'alice', 'localhost'],
      ['HTTP CONNECT with a domain-name target', 'httpDomain', 'http1', 'bob', 'localhost'],
    ] as const)('%s: stream and non-stream byte-exact, tunnel recorded', async (_, account, proxyName, user, host) => {
      const proxy = proxies[proxyName]
      await only(account)
      const startedAt = Date.now()
      await relayed(true)
      await relayed(false)

      expect(upstream.requests).toHaveLength(2)
      for (const req of upstream.requests) {
        expect(req.path).toBe('/v1/messages')
        expect(req.headers['x-api-key']).toBe(accounts[account]!.upstreamKey)
        expect(routeOf(req)).toBe(proxyName)
        // The proxy credentials are for the proxy only.
        expect(req.headers['proxy-authorization']).toBeUndefined()
        const sent = JSON.stringify(req.headers) + req.body
        for (const s of secrets()) expect(sent).not.toContain(s)
      }
      expect(proxy.connections.length).toBeGreaterThanOrEqual(1)
      for (const t of proxy.connections) {
        expect(t).toMatchObject({ target: `${host}:${upstreamPort}`, user })
        expect(t.at).toBeGreaterThanOrEqual(startedAt)
        expect(t.at).toBeLessThanOrEqual(Date.now())
      }
      expect(proxy.refused).toEqual([])
      expectQuietExcept(proxyName)
    })

    it('an account without a proxy connects directly; no proxy sees anything', async () => {
      await only('direct')
      await relayed(true)
      await relayed(false)
      expect(upstream.requests).toHaveLength(2)
      for (const req of upstream.requests) {
        expect(req.headers['x-api-key']).toBe(accounts.direct!.upstreamKey)
        expect(routeOf(req)).toBe('direct')
      }
      expectQuietExcept()
    })
  })

  describe('isolation between accounts', () => {
    it.each([
      ['socks1', 'socks2'],
      ['http1', 'http2'],
      ['socks1', 'http2'],
    ] as const)('traffic of %s never goes through the proxy of %s, and vice versa', async (a, b) => {
      await only(a)
      await relayed(true)
      await relayed(false)
      expect(upstream.requests.map(routeOf)).toEqual([a, a])
      expect(proxies[a].connections.every(t => t.user === proxies[a].auth!.user)).toBe(true)
      expectQuietExcept(a)

      upstream.reset()
      resetProxies()
      await only(b)
      await relayed(true)
      await relayed(false)
      expect(upstream.requests.map(routeOf)).toEqual([b, b])
      expect(proxies[b].connections.every(t => t.user === proxies[b].auth!.user)).toBe(true)
      expectQuietExcept(b)

      // Both active, concurrent requests: the scheduler alternates, each account keeps to its proxy.
      upstream.reset()
      resetProxies()
      await only(a, b)
      await Promise.all(Array.from({ length: 8 }, (_, i) => relayed(i % 2 === 0)))
      expect(upstream.requests).toHaveLength(8)
      const pairs = new Set(upstream.requests.map(r => `${accountOf(r)} via ${routeOf(r)}`))
      expect([...pairs].sort()).toEqual([`${a} via ${a}`, `${b} via ${b}`].sort())
      expectQuietExcept(a, b)
    })
  })

  describe('changing an account\'s proxy', () => {
    it('takes effect on the next request; the old proxy sees no new tunnel', async () => {
      await addAccount('moving', proxies.socks1.url())
      await only('moving')
      await relayed(true)
      expect(upstream.requests.map(routeOf)).toEqual(['socks1'])
      const socks1Tunnels = proxies.socks1.connections.length

      // No other change in between: the PUT alone must retire the old (kept-alive) tunnel.
      const view = await putAccount('moving', { proxy: proxies.http2.url() })
      expect(view.proxy).toMatch(new RegExp(`^http://dave:(\\*+|…|\\[redacted\\])@127\\.0\\.0\\.1:${proxies.http2.port}/?$`))
      await relayed(true)
      await relayed(false)
      expect(upstream.requests.map(routeOf)).toEqual(['socks1', 'http2', 'http2'])
      expect(proxies.socks1.connections).toHaveLength(socks1Tunnels)
      expect(proxies.http2.connections.map(t => t.user)).toContain('dave')
      const http2Tunnels = proxies.http2.connections.length

      expect((await putAccount('moving', { proxy: null })).proxy).toBeNull()
      await relayed(false)
      expect(routeOf(upstream.last())).toBe('direct')
      expect(proxies.http2.connections).toHaveLength(http2Tunnels)

      await putAccount('moving', { proxy: proxies.socksOpen.url() })
      await relayed(true)
      expect(routeOf(upstream.last())).toBe('socksOpen')
      expect(proxies.socks1.connections).toHaveLength(socks1Tunnels)
      expect(proxies.http2.connections).toHaveLength(http2Tunnels)
      expect(upstream.requests.every(r => r.headers['x-api-key'] === accounts.moving!.upstreamKey)).toBe(true)
    })
  })

  describe('proxy failures: 502 api_error in Anthropic\'s shape, never the proxy\'s answer', () => {
    beforeAll(async () => {
      await addAccount('broken', null)
    })

    /** Asserts a 502 api_error whose message names no proxy secret and carries nothing of the proxy's reply. */
    function expectProxyFailure(res: RawResponse): void {
      expect(res.status, res.body).toBe(502)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      const body = JSON.parse(res.body) as AnthropicErrorBody
      expect(body).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String) } })
      expect(body.error.message.length).toBeGreaterThan(0)
      expect(res.headers['proxy-authenticate']).toBeUndefined()
      expect(res.body).not.toContain(PROXY_REFUSAL_TEXT)
      for (const s of secrets()) expect(res.body).not.toContain(s)
    }

    it.each([
      ['SOCKS5, wrong password', 'socks1', 'alice'],
      ['SOCKS5, no credentials', 'socks1', null],
      ['HTTP CONNECT, wrong password', 'http1', 'bob'],
      ['HTTP CONNECT, no credentials', 'http1', null],
    ] as const)('%s → 502, the proxy refused it, nothing reached upstream', async (_, proxyName, user) => {
      const proxy = proxies[proxyName]
      await putAccount('broken', { proxy: proxy.url(user ? { user, pass: wrongPass } : null) })
      await only('broken')
      for (const stream of [true, false]) expectProxyFailure(await send(stream))
      expect(proxy.refused.length).toBeGreaterThanOrEqual(2)
      expect(proxy.refused.every(r => r.user === user)).toBe(true)
      expect(proxy.connections).toEqual([])
      expect(upstream.requests).toEqual([])
      expectQuietExcept(proxyName)
    })

    it.each(['socks5', 'http'])('%s proxy down (closed port) → 502', async (scheme) => {
      const closed = await freePort()
      await putAccount('broken', { proxy: `${scheme}://alice:${encodeURIComponent(wrongPass)}@127.0.0.1:${closed}` })
      await only('broken')
      for (const stream of [true, false]) expectProxyFailure(await send(stream))
      expect(upstream.requests).toEqual([])
    })

    it('the relay recovers once the proxy credentials are fixed', async () => {
      await putAccount('broken', { proxy: proxies.socks1.url({ user: 'alice', pass: wrongPass }) })
      await only('broken')
      expectProxyFailure(await send(false))
      await putAccount('broken', { proxy: proxies.socks1.url() })
      await relayed(false)
      expect(upstream.requests.map(routeOf)).toEqual(['socks1'])
    })
  })

  describe('admin views', () => {
    it('never show a proxy password, in the list or one by one; the proxy is shown redacted', async () => {
      const list = await server.admin<{ items: AccountView[] }>('GET', '/api/admin/claude-accounts')
      expect(list.status).toBe(200)
      const texts = [JSON.stringify(list.body)]
      const withAuth = ['socks1', 'socks2', 'http1', 'http2'] as const
      for (const name of withAuth) {
        const one = await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${accounts[name]!.id}`)
        expect(one.status).toBe(200)
        texts.push(JSON.stringify(one.body))
        const p = proxies[name]
        const redacted = new RegExp(`^${name.startsWith('socks') ? 'socks5' : 'http'}://${p.auth!.user}:(\\*+|…|\\[redacted\\])@127\\.0\\.0\\.1:${p.port}/?$`)
        expect(one.body.proxy).toMatch(redacted)
        expect(list.body.items.find(a => a.id === accounts[name]!.id)?.proxy).toBe(one.body.proxy)
      }
      expect(list.body.items.find(a => a.id === accounts.socksOpen!.id)?.proxy).toMatch(new RegExp(`^socks5://127\\.0\\.0\\.1:${proxies.socksOpen.port}/?$`))
      expect(list.body.items.find(a => a.id === accounts.direct!.id)?.proxy).toBeNull()
      for (const text of texts) {
        for (const s of secrets()) expect(text).not.toContain(s)
      }
    })

    it('the server log never contains a proxy password', () => {
      for (const s of secrets()) expect(server.output).not.toContain(s)
    })
  })
})
