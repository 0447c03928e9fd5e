import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic, type RecordedRequest, type UsageAnswer } from '../fixtures/anthropic-upstream'
import { FakeOAuthServer } from '../fixtures/oauth-server'
import { HttpConnectProxy } from '../fixtures/proxies'
import { messageBody, pollUntil, rawRequest } from '../helpers/client'
import { TestServer, testSecrets } from '../helpers/server'

// Issue 17 §1 and §5 end to end: subscription headroom from answers' headers and from the OAuth
// usage endpoint (polled through the account's proxy, single-flight across instances), and
// setup-token accounts. The built server against a fake Anthropic, a fake token endpoint, a proxy.

interface HeadroomWindow { utilization: number | null, resetAt: string | null, status: string | null }
interface AccountView {
  id: string
  type: string
  clients: string
  expiresSoon: boolean
  oauth: { expiresAt: string | null, scopes: string[] } | null
  status: { state: string, reason?: string }
  headroom: { fiveHour: HeadroomWindow, sevenDay: HeadroomWindow, status: string | null, representativeClaim: string | null, fallbackPercentage: number | null, source: string, seenAt: string } | null
  usageEndpoint: { outcome: string, at: string, nextAt: string } | null
}

const OAUTH_BETA = 'oauth-2025-04-20'
const CLAUDE_CODE = 'claude-cli/2.0.0 (external, cli)'
const DAY = 24 * 3600_000
const secret = (label: string) => `${label}-${randomBytes(9).toString('hex')}`
const bearerOf = (r: RecordedRequest) => /^Bearer (.+)$/.exec(r.headers.authorization ?? '')?.[1]

describe('subscription headroom and setup-token accounts', () => {
  const upstream = new FakeAnthropic()
  const tokens = new FakeOAuthServer()
  const proxy = new HttpConnectProxy({ user: 'poll', pass: 'proxy-pass' })
  /** Answers of the usage endpoint by bearer token (default: 200 with defaultUsage()). */
  const usageBy = new Map<string, UsageAnswer>()
  let poller: TestServer
  // Two instances on one Redis prefix whose poller waits an hour: only a 429 makes them poll.
  let a: TestServer
  let b: TestServer

  beforeAll(async () => {
    await Promise.all([upstream.start(), tokens.start(), proxy.start()])
    const env = { CLAUDE_API_URL: upstream.url, CLAUDE_OAUTH_TOKEN_URL: tokens.url(), OAUTH_REFRESH_INTERVAL_SECONDS: '0' }
    poller = await new TestServer({ ...env, CLAUDE_USAGE_POLL_SECONDS: '1' }).start()
    // Same secrets: a key made on one is known to the other, and both read the stored tokens.
    const shared = { ...env, ...testSecrets(), CLAUDE_USAGE_POLL_SECONDS: '3600' }
    a = await new TestServer(shared).start()
    b = await new TestServer(shared, { prefix: a.prefix }).start()
  })
  afterAll(async () => {
    await Promise.all([poller?.stop(), b?.stop({ keepData: true })])
    await a?.stop()
    await Promise.all([upstream.stop(), tokens.stop(), proxy.stop()])
  })
  beforeEach(() => {
    upstream.reset()
    tokens.reset()
    proxy.reset()
    upstream.behaviour.usageEndpoint = bearer => usageBy.get(bearer ?? '') ?? { status: 200 }
  })

  const view = async (server: TestServer, id: string) => (await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${id}`)).body
  const usageCalls = (token: string) => upstream.requests.filter(r => r.path === '/api/oauth/usage' && bearerOf(r) === token)
  const send = async (server: TestServer, apiKey: string) =>
    rawRequest(`${server.url}/api/v1/messages`, { headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'user-agent': CLAUDE_CODE }, body: messageBody() })

  async function oauthAccount(server: TestServer, extra: Record<string, unknown> = {}) {
    const accessToken = secret('at')
    const refreshToken = secret('rt')
    tokens.addRefreshToken(refreshToken)
    const res = await server.admin<AccountView>('POST', '/api/admin/claude-accounts', {
      type: 'oauth', name: secret('sub'), refreshToken, accessToken, expiresAt: Date.now() + DAY, ...extra,
    })
    expect(res.status).toBe(201)
    return { id: res.body.id, accessToken }
  }

  async function setupTokenAccount(server: TestServer, extra: Record<string, unknown> = {}) {
    const accessToken = secret('sk-ant-oat01-setup')
    const res = await server.admin<AccountView>('POST', '/api/admin/claude-accounts', { type: 'setup-token', name: secret('headless'), accessToken, ...extra })
    return { res, accessToken }
  }

  describe('the usage endpoint', () => {
    it('is polled through the account\'s proxy with its token and the OAuth beta; utilisation stored as a fraction', async () => {
      const { id, accessToken } = await oauthAccount(poller, { proxy: proxy.url() })
      const calls = await pollUntil(async () => usageCalls(accessToken), c => c.length > 0, 5000)
      expect(calls.length).toBeGreaterThan(0)
      expect(calls[0]!.method).toBe('GET')
      expect(calls[0]!.headers['anthropic-beta']).toBe(OAUTH_BETA)
      expect(proxy.connections.map(c => c.target)).toContain(new URL(upstream.url).host)
      const v = await pollUntil(() => view(poller, id), x => x.headroom !== null, 3000)
      expect(v.headroom).toMatchObject({
        source: 'usage-endpoint', fiveHour: { utilization: 0.37 }, sevenDay: { utilization: 0.125, resetAt: null },
      })
      expect(Date.parse(v.headroom!.fiveHour.resetAt!) - Date.now()).toBeGreaterThan(3600_000)
      expect(v.usageEndpoint?.outcome).toBe('ok')
      // The schedule is kept: within the 1 s interval the account is not asked again.
      const n = usageCalls(accessToken).length
      await new Promise(r => setTimeout(r, 400))
      expect(usageCalls(accessToken).length).toBeLessThanOrEqual(n + 1)
    })

    it('a 403 (no usage scope) is remembered and the account is not polled again for a day', async () => {
      const { id, accessToken } = await oauthAccount(poller)
      usageBy.set(accessToken, { status: 403 })
      const v = await pollUntil(() => view(poller, id), x => x.usageEndpoint?.outcome === 'unavailable', 5000)
      expect(v.usageEndpoint?.outcome).toBe('unavailable')
      expect(Date.parse(v.usageEndpoint!.nextAt) - Date.now()).toBeGreaterThan(DAY - 60_000)
      expect(v.headroom).toBeNull()
      const n = usageCalls(accessToken).length
      await new Promise(r => setTimeout(r, 2500))
      expect(usageCalls(accessToken).length).toBe(n)
    })

    it('a 429 backs off (a minute at least)', async () => {
      const { id, accessToken } = await oauthAccount(poller)
      usageBy.set(accessToken, { status: 429 })
      const v = await pollUntil(() => view(poller, id), x => x.usageEndpoint?.outcome === 'rate_limited', 5000)
      expect(v.usageEndpoint?.outcome).toBe('rate_limited')
      expect(Date.parse(v.usageEndpoint!.nextAt) - Date.parse(v.usageEndpoint!.at)).toBeGreaterThanOrEqual(60_000)
    })

    it('right after a 429, two instances poll the account once between them', async () => {
      const { id, accessToken } = await oauthAccount(a)
      const apiKey = (await a.createKey({ name: secret('k'), claudeAccountId: id })).apiKey
      usageBy.set(accessToken, { status: 200, delayMs: 600 })
      upstream.behaviour.mode = 'error429'
      // Both requests reach the upstream before either 429 comes back: two triggers.
      upstream.behaviour.headerDelayMs = 200
      const answers = await Promise.all([send(a, apiKey), send(b, apiKey)])
      expect(answers.map(r => r.status)).toEqual([429, 429])
      const v = await pollUntil(() => view(a, id), x => x.usageEndpoint?.outcome === 'ok', 5000)
      expect(v.headroom?.fiveHour.utilization).toBe(0.37)
      await new Promise(r => setTimeout(r, 800))
      expect(usageCalls(accessToken)).toHaveLength(1)
    })
  })

  it('the unified headers of an answer are kept, merged with what the usage endpoint said', async () => {
    const { id, accessToken } = await oauthAccount(a)
    const apiKey = (await a.createKey({ name: secret('k'), claudeAccountId: id })).apiKey
    const reset = Math.floor(Date.now() / 1000) + 3600
    upstream.behaviour.headers = {
      'anthropic-ratelimit-unified-status': 'allowed_warning', 'anthropic-ratelimit-unified-representative-claim': 'five_hour',
      'anthropic-ratelimit-unified-5h-utilization': '0.93', 'anthropic-ratelimit-unified-5h-reset': String(reset), 'anthropic-ratelimit-unified-5h-status': 'allowed_warning',
      'anthropic-ratelimit-unified-7d-utilization': 'junk', 'anthropic-ratelimit-unified-fallback-percentage': '0.5',
    }
    expect((await send(a, apiKey)).status).toBe(200)
    const v = await pollUntil(() => view(a, id), x => x.headroom !== null, 2000)
    expect(v.headroom).toMatchObject({
      source: 'headers', status: 'allowed_warning', representativeClaim: 'five_hour', fallbackPercentage: 0.5,
      fiveHour: { utilization: 0.93, resetAt: new Date(reset * 1000).toISOString(), status: 'allowed_warning' },
      sevenDay: { utilization: null, resetAt: null, status: null },
    })
    expect(usageCalls(accessToken)).toHaveLength(0)
  })

  describe('setup-token accounts', () => {
    it('are created through the admin API: Claude Code only, no refresh token, expiry optional', async () => {
      const { res } = await setupTokenAccount(a)
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({ type: 'setup-token', clients: 'claude-code', expiresSoon: false, oauth: { expiresAt: null, scopes: ['user:inference'] } })
      const missing = await a.admin<{ message: string, data?: { issues?: { path: string }[] } }>('POST', '/api/admin/claude-accounts', { type: 'setup-token', name: 'no-token' })
      expect(missing.status).toBe(400)
      expect(JSON.stringify(missing.body)).toContain('accessToken')
      const refresh = await a.admin<{ message: string }>('POST', `/api/admin/claude-accounts/${res.body.id}/refresh`)
      expect(refresh.status).toBe(400)
      expect(refresh.body.message).toMatch(/setup token cannot be refreshed/)
    })

    it.each([
      ['within 14 days', 5 * DAY, true],
      ['already expired', -DAY, true],
      ['in two months', 60 * DAY, false],
    ])('an expiry %s is warned about: %s', async (_, inMs, warned) => {
      const expiresAt = new Date(Date.now() + inMs).toISOString()
      const { res } = await setupTokenAccount(a, { expiresAt })
      expect(res.status).toBe(201)
      expect(res.body.expiresSoon).toBe(warned)
      expect((await view(a, res.body.id)).oauth?.expiresAt).toBe(new Date(Date.parse(expiresAt)).toISOString())
    })

    it('serve Claude Code with Bearer + the OAuth beta and never call the token endpoint; a 401 marks them error without a refresh', async () => {
      const { res, accessToken } = await setupTokenAccount(a, { expiresAt: Date.now() + 300 * DAY })
      const id = res.body.id
      const apiKey = (await a.createKey({ name: secret('k'), claudeAccountId: id })).apiKey
      upstream.behaviour.headers = { 'anthropic-ratelimit-unified-5h-utilization': '0.4' }
      const ok = await send(a, apiKey)
      expect(ok.status).toBe(200)
      // Its answers' unified headers are read like any subscription's.
      expect((await pollUntil(() => view(a, id), x => x.headroom !== null, 2000)).headroom?.fiveHour.utilization).toBe(0.4)
      const call = upstream.requests.find(r => r.path.startsWith('/v1/messages'))!
      expect(bearerOf(call)).toBe(accessToken)
      expect(String(call.headers['anthropic-beta'])).toContain(OAUTH_BETA)
      expect(call.headers['x-api-key']).toBeUndefined()

      upstream.behaviour.rejectBearer = accessToken
      const refused = await send(a, apiKey)
      expect(refused.status).toBeGreaterThanOrEqual(400)
      const v = await pollUntil(() => view(a, id), x => x.status.state === 'error', 2000)
      expect(v.status.state).toBe('error')
      expect(v.status.reason).toMatch(/setup token.*replace it/)
      expect(tokens.requests).toEqual([])
      expect(a.output + b.output).not.toContain(accessToken)
    })
  })
})
