import { createHash, randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic, jsonMessage, type RecordedRequest } from '../fixtures/anthropic-upstream'
import { FAKE_ACCOUNT, FAKE_ORGANIZATION, FakeOAuthServer } from '../fixtures/oauth-server'
import { HttpConnectProxy, Socks5Proxy } from '../fixtures/proxies'
import { messageBody, pollUntil, rawRequest } from '../helpers/client'
import { dumpPrefix } from '../helpers/redis-dump'
import { TestServer } from '../helpers/server'

// Claude OAuth (subscription) accounts end to end: the built server against a fake token endpoint,
// a fake Anthropic API and recording proxies, with real Redis. Every relay request uses an API key
// bound to the account under test, so accounts made by other tests never serve it.

interface AccountView {
  id: string
  name: string
  type: string
  isActive: boolean
  priority: number
  description: string
  apiUrl: string
  proxy: string | null
  oauth: { expiresAt: string | null, scopes: string[], email: string | null, organization: string | null } | null
  status: { state: string, reason?: string, until?: string | null }
}
interface AnthropicErrorBody { type: string, error: { type: string, message: string } }
interface AdminError { message: string }

const OAUTH_BETA = 'oauth-2025-04-20'
const CLAUDE_CODE = 'claude-cli/2.0.0 (external, cli)'
/** A unique secret-looking value (so a leak of it anywhere is unambiguous). */
const secret = (label: string) => `${label}-${randomBytes(9).toString('hex')}`
const sha256 = (v: string) => createHash('sha256').update(v).digest('base64url')
const bearerOf = (r: RecordedRequest) => r.headers.authorization
const AUTHORIZE_PARAMS = ['code', 'client_id', 'response_type', 'redirect_uri', 'scope', 'code_challenge', 'code_challenge_method', 'state'].sort()

describe('Claude OAuth accounts', () => {
  const upstream = new FakeAnthropic()
  const tokens = new FakeOAuthServer()
  const env = {
    CLAUDE_OAUTH_AUTHORIZE_URL: 'https://auth.example.test/oauth/authorize',
    CLAUDE_OAUTH_CLIENT_ID: 'test-client-0b7e',
    CLAUDE_OAUTH_REDIRECT_URI: 'https://relay.example.test/oauth/callback',
    CLAUDE_OAUTH_SCOPES: 'user:profile user:inference custom:scope',
  }
  let server: TestServer

  beforeAll(async () => {
    await Promise.all([upstream.start(), tokens.start()])
    // The background refresher is off here (interval 0): every refresh below is caused by the test.
    server = await new TestServer({ ...env, CLAUDE_API_URL: upstream.url, CLAUDE_OAUTH_TOKEN_URL: tokens.url(), OAUTH_REFRESH_INTERVAL_SECONDS: '0' }).start()
  })
  afterAll(async () => {
    await server?.stop()
    await Promise.all([upstream.stop(), tokens.stop()])
  })
  beforeEach(() => {
    upstream.reset()
    tokens.reset()
  })

  const view = async (id: string) => {
    const res = await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${id}`)
    expect(res.status).toBe(200)
    return res.body
  }

  /** Import an OAuth account (its refresh token made valid at the fake unless `revoked`). */
  async function importAccount(fields: { expiresAt: number, proxy?: string, revoked?: boolean }) {
    const accessToken = secret('at-imported')
    const refreshToken = secret('rt-imported')
    if (!fields.revoked) tokens.addRefreshToken(refreshToken)
    const { status, body } = await server.admin<AccountView>('POST', '/api/admin/claude-accounts', {
      type: 'oauth', name: secret('imported'), refreshToken, accessToken, expiresAt: fields.expiresAt,
      ...(fields.proxy ? { proxy: fields.proxy } : {}),
    })
    expect(status).toBe(201)
    return { id: body.id, view: body, accessToken, refreshToken }
  }

  /** An API key that only this account serves (no pool fallback). */
  const boundKey = async (accountId: string) => (await server.createKey({ name: secret('oauth-key'), claudeAccountId: accountId })).apiKey

  // Subscription accounts serve Claude Code only (claude-clients.test.ts): these requests are its.
  const send = async (apiKey: string, headers: Record<string, string> = {}, path = '/api/v1/messages') =>
    rawRequest(`${server.url}${path}`, { headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'user-agent': CLAUDE_CODE, ...headers }, body: messageBody() })

  const anthropicError = (body: string) => JSON.parse(body) as AnthropicErrorBody
  // KEYS patterns get no keyPrefix from ioredis: name the server's prefix.
  const sessionKeys = () => server.redis.keys(`${server.prefix}oauth_session:*`)

  describe('generate-auth-url', () => {
    it('needs an admin (so do the other OAuth routes)', async () => {
      const unauthenticated = async (path: string, body: unknown = {}) =>
        (await fetch(`${server.url}/api/admin/claude-accounts/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status
      expect(await unauthenticated('generate-auth-url')).toBe(401)
      expect(await sessionKeys()).toEqual([])
      expect(await unauthenticated('exchange-code', { sessionId: 'x'.repeat(24), code: 'abcdef', name: 'n' })).toBe(401)
      expect(await unauthenticated('00000000-0000-4000-8000-000000000000/refresh')).toBe(401)
      expect(await unauthenticated('00000000-0000-4000-8000-000000000000/reset-state')).toBe(401)
      // The same call as an admin stores a session (so the empty list above meant something).
      expect((await server.admin('POST', '/api/admin/claude-accounts/generate-auth-url', {})).status).toBe(200)
      expect(await sessionKeys()).toHaveLength(1)
    })

    it('answers {authUrl, sessionId, expiresAt}; the URL carries exactly the PKCE parameters, all from the env', async () => {
      const before = Date.now()
      const { status, body } = await server.admin<{ authUrl: string, sessionId: string, expiresAt: string }>('POST', '/api/admin/claude-accounts/generate-auth-url', {})
      expect(status).toBe(200)
      expect(Object.keys(body).sort()).toEqual(['authUrl', 'expiresAt', 'sessionId'])
      const url = new URL(body.authUrl)
      expect(`${url.origin}${url.pathname}`).toBe(env.CLAUDE_OAUTH_AUTHORIZE_URL)
      expect([...url.searchParams.keys()].sort()).toEqual(AUTHORIZE_PARAMS)
      const q = Object.fromEntries(url.searchParams)
      expect(q).toMatchObject({
        code: 'true', client_id: env.CLAUDE_OAUTH_CLIENT_ID, response_type: 'code', redirect_uri: env.CLAUDE_OAUTH_REDIRECT_URI,
        scope: env.CLAUDE_OAUTH_SCOPES, code_challenge_method: 'S256',
      })
      expect(q.code_challenge).toMatch(/^[\w-]{43}$/)
      expect(q.state).toMatch(/^[\w-]{43}$/)
      // Ten minutes to finish, kept in Redis no longer than that.
      const expiresAt = Date.parse(body.expiresAt)
      expect(expiresAt).toBeGreaterThanOrEqual(before + 600_000 - 1000)
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000)
      const ttl = await server.redis.pttl(`oauth_session:${body.sessionId}`)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(600_000)
      // A second authorization gets its own PKCE pair and state.
      const again = new URL((await server.admin<{ authUrl: string }>('POST', '/api/admin/claude-accounts/generate-auth-url', {})).body.authUrl)
      expect(again.searchParams.get('state')).not.toBe(q.state)
      expect(again.searchParams.get('code_challenge')).not.toBe(q.code_challenge)
    })

    it.each([
      ['an unsupported scheme', 'ftp://proxy.example.test:21', /scheme/],
      ['no port', 'socks5://proxy.example.test', /port/],
      ['not a URL', 'not a proxy', /proxy/],
    ])('a proxy with %s → 400 naming the problem, no session stored', async (_, proxy, message) => {
      const sessionsBefore = (await sessionKeys()).length
      expect(sessionsBefore).toBeGreaterThan(0) // from the tests above: the count below can move
      const { status, body } = await server.admin<AdminError>('POST', '/api/admin/claude-accounts/generate-auth-url', { proxy })
      expect(status).toBe(400)
      expect(body.message).toMatch(message)
      expect((await sessionKeys()).length).toBe(sessionsBefore)
    })
  })

  describe('exchange-code through a SOCKS5 proxy with credentials', () => {
    const socks = new Socks5Proxy({ user: 'socks-user', pass: secret('socks-pass') })
    beforeAll(async () => {
      await socks.start()
    })
    afterAll(async () => {
      await socks.stop()
    })
    beforeEach(() => socks.reset())

    /** Start an authorization through the proxy and register its code at the fake, as the authorize page would. */
    async function authorize() {
      const { status, body } = await server.admin<{ authUrl: string, sessionId: string }>('POST', '/api/admin/claude-accounts/generate-auth-url', { proxy: socks.url() })
      expect(status).toBe(200)
      const url = new URL(body.authUrl)
      const code = secret('auth-code')
      const challenge = url.searchParams.get('code_challenge')!
      tokens.expectCode(code, challenge)
      return { sessionId: body.sessionId, state: url.searchParams.get('state')!, challenge, code }
    }
    const exchange = (sessionId: string, code: string) =>
      server.admin<AccountView & AdminError>('POST', '/api/admin/claude-accounts/exchange-code', { sessionId, code, name: 'subscription' })
    const callbackUrl = (code: string, state: string) =>
      `${env.CLAUDE_OAUTH_REDIRECT_URI}?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`

    it('a wrong state → 400, nothing sent to the token endpoint', async () => {
      const a = await authorize()
      const res = await exchange(a.sessionId, callbackUrl(a.code, secret('someone-elses-state')))
      expect(res.status).toBe(400)
      expect(res.body.message).toMatch(/state/)
      expect(res.body.message).not.toContain(a.code)
      expect(tokens.requests).toEqual([])
      expect(socks.connections).toEqual([])
      // The session survives the mismatch: the right callback URL still works.
      expect((await exchange(a.sessionId, callbackUrl(a.code, a.state))).status).toBe(201)
    })

    it('the whole callback URL → 201 oauth account with the provider\'s details and no secret; the token request went through the proxy', async () => {
      const a = await authorize()
      const before = Date.now()
      const res = await rawRequest(`${server.url}/api/admin/claude-accounts/exchange-code`, {
        headers: { 'authorization': `Bearer ${await server.adminToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sessionId: a.sessionId, code: callbackUrl(a.code, a.state), name: 'subscription' }),
      })
      expect(res.status).toBe(201)
      const account = JSON.parse(res.body) as AccountView
      expect(account).toMatchObject({
        type: 'oauth', name: 'subscription', status: { state: 'active' },
        oauth: { scopes: ['user:inference', 'user:profile'], email: FAKE_ACCOUNT.email_address, organization: FAKE_ORGANIZATION.name },
      })
      const expiresAt = Date.parse(account.oauth!.expiresAt!)
      expect(expiresAt).toBeGreaterThanOrEqual(before + 3600_000 - 1000)
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000)

      // The token request: one, JSON, the documented fields, the verifier of the URL's challenge.
      expect(tokens.requests).toHaveLength(1)
      const req = tokens.requests[0]!
      expect(req.encoding).toBe('json')
      expect(Object.keys(req.body).sort()).toEqual(['client_id', 'code', 'code_verifier', 'grant_type', 'redirect_uri', 'state'])
      expect(req.body).toMatchObject({ grant_type: 'authorization_code', client_id: env.CLAUDE_OAUTH_CLIENT_ID, code: a.code, redirect_uri: env.CLAUDE_OAUTH_REDIRECT_URI, state: a.state })
      expect(sha256(req.body.code_verifier as string)).toBe(a.challenge)
      // …carried by a tunnel of the session's proxy, authenticated.
      const toTokenEndpoint = socks.connections.filter(t => t.target === `127.0.0.1:${tokens.port}`)
      expect(toTokenEndpoint).toEqual([expect.objectContaining({ user: 'socks-user' })])
      expect(req.remotePort).toBe(toTokenEndpoint[0]!.localPort)
      // The new account's pool warmed its connections to the Messages API through the same proxy.
      await pollUntil(async () => socks.connections.filter(t => t.target === new URL(upstream.url).host).length, n => n === 3, 3000)
      expect(socks.connections.every(t => t.user === 'socks-user')).toBe(true)

      // No token, code, verifier or proxy password in the answer.
      for (const s of [/fake-access-/, /fake-refresh-/, a.code, req.body.code_verifier as string, socks.auth!.pass]) expect(res.body).not.toMatch(s)
      // The account keeps the session's proxy, shown without its password.
      expect(account.proxy).toBe(`socks5://socks-user:***@127.0.0.1:${socks.port}`)
      expect((await view(account.id)).proxy).toBe(account.proxy)
      expect(await server.redis.exists(`oauth_session:${a.sessionId}`)).toBe(0)

      // The session is spent: a second exchange is refused without a token request.
      const twice = await exchange(a.sessionId, callbackUrl(a.code, a.state))
      expect(twice.status).toBe(400)
      expect(twice.body.message).toMatch(/session/i)
      expect(tokens.requests).toHaveLength(1)

      // And the account relays through that proxy (over a warm tunnel) with the token it was issued.
      const relayed = await send(await boundKey(account.id))
      expect(relayed.status).toBe(200)
      expect(bearerOf(upstream.last())).toMatch(/^Bearer fake-access-\d+$/)
      const tunnel = socks.connections.find(c => c.localPort === upstream.last().remotePort)
      expect(tunnel?.target).toBe(new URL(upstream.url).host)
    })
  })

  describe('import', () => {
    it.each([
      ['ms since the epoch', (t: number) => t],
      ['an ISO date', (t: number) => new Date(t).toISOString()],
    ])('{type: oauth, refreshToken, accessToken, expiresAt as %s} → 201; tokens encrypted in Redis, in no view', async (_, form) => {
      const accessToken = secret('at-import')
      const refreshToken = secret('rt-import')
      const expiresAt = Math.floor(Date.now() / 1000) * 1000 + 3600_000
      const res = await rawRequest(`${server.url}/api/admin/claude-accounts`, {
        headers: { 'authorization': `Bearer ${await server.adminToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'oauth', name: 'imported', refreshToken, accessToken, expiresAt: form(expiresAt) }),
      })
      expect(res.status).toBe(201)
      const account = JSON.parse(res.body) as AccountView
      expect(account).toMatchObject({ type: 'oauth', name: 'imported', oauth: { expiresAt: new Date(expiresAt).toISOString() } })
      for (const text of [res.body, JSON.stringify(await view(account.id)), JSON.stringify((await server.admin('GET', '/api/admin/claude-accounts')).body)]) {
        expect(text).not.toContain(accessToken)
        expect(text).not.toContain(refreshToken)
      }
      const stored = await server.redis.hgetall(`claude_account:${account.id}`)
      expect(stored.accessToken).toMatch(/^v1\./)
      expect(stored.refreshToken).toMatch(/^v1\./)
      const dump = [...(await dumpPrefix(server.redis, server.prefix)).values()].join('\n')
      expect(dump).toContain(account.id)
      expect(dump).not.toContain(accessToken)
      expect(dump).not.toContain(refreshToken)
      expect(tokens.requests).toEqual([]) // a valid access token is not refreshed on import
    })

    it('only a refresh token (expiry unknown): the first request refreshes, then uses the new token', async () => {
      const refreshToken = secret('rt-only')
      tokens.addRefreshToken(refreshToken)
      const { status, body } = await server.admin<AccountView>('POST', '/api/admin/claude-accounts', { type: 'oauth', name: 'refresh token only', refreshToken })
      expect(status).toBe(201)
      expect(body.oauth).toMatchObject({ expiresAt: null })
      expect((await send(await boundKey(body.id))).status).toBe(200)
      expect(tokens.requests.map(r => r.body)).toEqual([{ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: env.CLAUDE_OAUTH_CLIENT_ID }])
      expect(bearerOf(upstream.last())).toMatch(/^Bearer fake-access-\d+$/)
    })

    it('fields left out take the defaults of any new account (active, priority 50), so the account serves at once', async () => {
      const accessToken = secret('at-defaults')
      const { status, body } = await server.admin<AccountView>('POST', '/api/admin/claude-accounts', {
        type: 'oauth', name: 'imported with defaults', refreshToken: secret('rt-defaults'), accessToken, expiresAt: Date.now() + 3600_000,
      })
      expect(status).toBe(201)
      expect(await view(body.id)).toMatchObject({ isActive: true, priority: 50, description: '', apiUrl: '', status: { state: 'active' } })
      const res = await send(await boundKey(body.id))
      expect(res.status).toBe(200)
      expect(bearerOf(upstream.last())).toBe(`Bearer ${accessToken}`)
    })
  })

  describe('relay with an OAuth account', () => {
    const cases: { name: string, betas?: string, keyIn: 'x-api-key' | 'authorization', clientBetas: string[] }[] = [
      { name: 'x-api-key, betas that already include the OAuth one', betas: `${OAUTH_BETA}, prompt-caching-2024-07-31`, keyIn: 'x-api-key', clientBetas: ['prompt-caching-2024-07-31'] },
      { name: 'Authorization: Bearer cr_…, betas without it', betas: 'interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14', keyIn: 'authorization', clientBetas: ['interleaved-thinking-2025-05-14', 'fine-grained-tool-streaming-2025-05-14'] },
      { name: 'x-api-key, no betas', keyIn: 'x-api-key', clientBetas: [] },
    ]
    it.each(cases)(`$name: Bearer access token, no x-api-key, client betas + ${OAUTH_BETA} once, ?beta=true kept`, async ({ betas, keyIn, clientBetas }) => {
      const account = await importAccount({ expiresAt: Date.now() + 3600_000 })
      const apiKey = await boundKey(account.id)
      const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'user-agent': CLAUDE_CODE }
      if (betas) headers['anthropic-beta'] = betas
      if (keyIn === 'authorization') headers.authorization = `Bearer ${apiKey}`
      else headers['x-api-key'] = apiKey
      const res = await rawRequest(`${server.url}/api/v1/messages?beta=true`, {
        headers,
        body: messageBody(),
      })
      expect(res.status).toBe(200)
      expect(res.body).toBe(jsonMessage(upstream.behaviour))
      expect(upstream.requests).toHaveLength(1)
      const got = upstream.last()
      expect(got.path).toBe('/v1/messages?beta=true')
      expect(got.headers.authorization).toBe(`Bearer ${account.accessToken}`)
      expect(got.headers['x-api-key']).toBeUndefined()
      const sent = String(got.headers['anthropic-beta']).split(',').map(b => b.trim())
      expect(sent.filter(b => b === OAUTH_BETA)).toHaveLength(1)
      expect(sent).toHaveLength(clientBetas.length + 1)
      expect(new Set(sent)).toEqual(new Set([...clientBetas, OAUTH_BETA]))
      // The client's relay key goes nowhere upstream.
      expect(JSON.stringify(got.headers)).not.toContain(apiKey)
      expect(got.body).not.toContain(apiKey)
      // A token valid for an hour is used as it is.
      expect(tokens.requests).toEqual([])
    })
  })

  describe('refresh before expiry', () => {
    const proxy = new HttpConnectProxy({ user: 'proxy-user', pass: secret('proxy-pass') })
    beforeAll(async () => {
      await proxy.start()
    })
    afterAll(async () => {
      await proxy.stop()
    })
    beforeEach(() => proxy.reset())

    it('a token expiring in 5 s is refreshed (through the account\'s proxy) before the request, which carries the new token', async () => {
      const account = await importAccount({ expiresAt: Date.now() + 5000, proxy: proxy.url() })
      const apiKey = await boundKey(account.id)
      const res = await send(apiKey)
      expect(res.status).toBe(200)

      expect(tokens.refreshCount).toBe(1)
      const req = tokens.requests[0]!
      expect(req.encoding).toBe('json')
      expect(req.body).toEqual({ grant_type: 'refresh_token', refresh_token: account.refreshToken, client_id: env.CLAUDE_OAUTH_CLIENT_ID })
      const tunnel = proxy.connections.find(c => c.target === `127.0.0.1:${tokens.port}`)
      expect(tunnel).toMatchObject({ user: 'proxy-user' })
      expect(req.remotePort).toBe(tunnel!.localPort)

      expect(upstream.requests).toHaveLength(1)
      const bearer = bearerOf(upstream.last())
      expect(bearer).toMatch(/^Bearer fake-access-\d+$/)
      expect(bearer).not.toBe(`Bearer ${account.accessToken}`)
      expect(Date.parse((await view(account.id)).oauth!.expiresAt!)).toBeGreaterThan(Date.now() + 3000_000)

      // Stored: the next request uses the same new token without another refresh.
      expect((await send(apiKey)).status).toBe(200)
      expect(bearerOf(upstream.last())).toBe(bearer)
      expect(tokens.refreshCount).toBe(1)
    })

    it('single flight: 50 concurrent requests on an expiring account → ONE refresh, all 50 served with the new token', async () => {
      const account = await importAccount({ expiresAt: Date.now() + 5000 })
      const apiKey = await boundKey(account.id)
      tokens.behaviour.delayMs = 300
      const results = await Promise.all(Array.from({ length: 50 }, () => send(apiKey)))
      expect(results.map(r => r.status)).toEqual(Array.from({ length: 50 }, () => 200))
      expect(tokens.refreshCount).toBe(1)
      expect(upstream.requests).toHaveLength(50)
      const bearers = new Set(upstream.requests.map(bearerOf))
      expect(bearers.size).toBe(1)
      expect([...bearers][0]).toMatch(/^Bearer fake-access-\d+$/)
      expect(await server.redis.exists(`oauth_lock:${account.id}`)).toBe(0)
    })
  })

  describe('401 from upstream', () => {
    it('one forced refresh, and the same client request succeeds on the same account with the new token', async () => {
      const account = await importAccount({ expiresAt: Date.now() + 3600_000 })
      const apiKey = await boundKey(account.id)
      upstream.behaviour.rejectBearer = account.accessToken
      const res = await send(apiKey)
      expect(res.status).toBe(200)
      expect(res.body).toBe(jsonMessage(upstream.behaviour))
      expect(tokens.refreshCount).toBe(1)
      expect(tokens.requests[0]!.body).toMatchObject({ grant_type: 'refresh_token', refresh_token: account.refreshToken })
      expect(upstream.requests.map(bearerOf)).toEqual([`Bearer ${account.accessToken}`, expect.stringMatching(/^Bearer fake-access-\d+$/)])
      expect((await view(account.id)).status.state).toBe('active')
    })

    it('a refreshed token refused too: no second refresh, the 401 reaches the client and the account is marked error', async () => {
      const account = await importAccount({ expiresAt: Date.now() + 3600_000 })
      const apiKey = await boundKey(account.id)
      upstream.behaviour.rejectBearer = /./
      const res = await send(apiKey)
      expect(res.status).toBe(401)
      expect(anthropicError(res.body).error.type).toBe('authentication_error')
      expect(tokens.refreshCount).toBe(1)
      // The client's request twice (before and after the refresh), then the relay's own probe
      // (issue 12: a 401 takes the account out of the pool only when the probe is refused too).
      expect(upstream.requests.map(r => r.path.split('?')[0])).toEqual(['/v1/messages', '/v1/messages', '/v1/messages/count_tokens'])
      expect((await view(account.id)).status.state).toBe('error')
    })
  })

  describe('refresh failure', () => {
    it('invalid_grant → Anthropic-shaped error naming the refresh, account error; admin refresh explains; fixed + reset-state → served', async () => {
      const account = await importAccount({ expiresAt: Date.now() + 5000, revoked: true })
      const apiKey = await boundKey(account.id)
      const secrets = [account.refreshToken, account.accessToken]

      const first = await send(apiKey)
      expect(first.status).toBe(502)
      const err = anthropicError(first.body)
      expect(err).toMatchObject({ type: 'error', error: { type: 'api_error' } })
      expect(err.error.message).toMatch(/refresh/i)
      for (const s of secrets) expect(first.body).not.toContain(s)
      expect(tokens.refreshCount).toBe(1)
      expect(upstream.requests).toEqual([])

      const failed = await view(account.id)
      expect(failed.status.state).toBe('error')
      expect(failed.status.reason).toMatch(/refresh/i)
      for (const s of secrets) expect(JSON.stringify(failed)).not.toContain(s)

      // Out of the pool: the next request is refused without another token call.
      const second = await send(apiKey)
      expect(second.status).toBe(503)
      expect(anthropicError(second.body).type).toBe('error')
      expect(tokens.refreshCount).toBe(1)

      const manual = await server.admin<AdminError>('POST', `/api/admin/claude-accounts/${account.id}/refresh`)
      expect(manual.status).toBe(400)
      expect(manual.body.message).toMatch(/invalid_grant/)
      expect(manual.body.message).toMatch(/refresh token/)
      for (const s of secrets) expect(JSON.stringify(manual.body)).not.toContain(s)
      expect(tokens.refreshCount).toBe(2)

      // The token server accepts the refresh token again; an admin puts the account back.
      tokens.addRefreshToken(account.refreshToken)
      const reset = await server.admin<AccountView>('POST', `/api/admin/claude-accounts/${account.id}/reset-state`)
      expect(reset.status).toBe(200)
      expect(reset.body.status.state).toBe('active')
      const third = await send(apiKey)
      expect(third.status).toBe(200)
      expect(tokens.refreshCount).toBe(3)
      expect(bearerOf(upstream.last())).toMatch(/^Bearer fake-access-\d+$/)
      expect((await view(account.id)).status.state).toBe('active')
    })
  })

  describe('refresh failure that may pass (token endpoint 500)', () => {
    it('the account waits 30 s, then 60 s after a second failure in a row (backoff), and a success clears it', async () => {
      const account = await importAccount({ expiresAt: Date.now() + 3600_000 })
      tokens.failNext(2, 500)
      const waits: number[] = []
      for (let i = 0; i < 2; i++) {
        expect((await server.admin('POST', `/api/admin/claude-accounts/${account.id}/refresh`)).status).toBeGreaterThanOrEqual(400)
        const s = (await view(account.id)).status as { state: string, since: string, until: string }
        expect(s.state).toBe('error')
        waits.push(Date.parse(s.until) - Date.parse(s.since))
      }
      expect(waits).toEqual([30_000, 60_000])
      const ok = await server.admin<AccountView>('POST', `/api/admin/claude-accounts/${account.id}/refresh`)
      expect(ok.status).toBe(200)
      expect(ok.body.status.state).toBe('active')
      expect(tokens.refreshCount).toBe(3)
    })
  })

  describe('POST /api/admin/claude-accounts/:id/refresh', () => {
    it('a healthy OAuth account: refreshed now, expiry moves forward, requests use the new token', async () => {
      const account = await importAccount({ expiresAt: Date.now() + 30 * 60_000 })
      const before = Date.parse(account.view.oauth!.expiresAt!)
      tokens.behaviour.expiresIn = 7200
      const res = await server.admin<AccountView>('POST', `/api/admin/claude-accounts/${account.id}/refresh`)
      expect(res.status).toBe(200)
      expect(tokens.refreshCount).toBe(1)
      expect(tokens.requests[0]!.body).toEqual({ grant_type: 'refresh_token', refresh_token: account.refreshToken, client_id: env.CLAUDE_OAUTH_CLIENT_ID })
      const after = Date.parse(res.body.oauth!.expiresAt!)
      expect(after).toBeGreaterThan(before + 60 * 60_000)
      expect(after).toBeGreaterThan(Date.now() + 7000_000)
      expect(JSON.stringify(res.body)).not.toMatch(/fake-access-|fake-refresh-/)

      expect((await send(await boundKey(account.id))).status).toBe(200)
      expect(bearerOf(upstream.last())).toMatch(/^Bearer fake-access-\d+$/)
      // The rotated refresh token was stored: the next refresh sends it (the old one is spent).
      expect((await server.admin('POST', `/api/admin/claude-accounts/${account.id}/refresh`)).status).toBe(200)
      expect(tokens.requests[1]!.body.refresh_token).toMatch(/^fake-refresh-\d+$/)
    })

    it('a Console account → 400; an unknown account → 404', async () => {
      const consoleAccount = await server.createConsoleAccount(upstream.url, { name: 'console-no-refresh' })
      const res = await server.admin<AdminError>('POST', `/api/admin/claude-accounts/${consoleAccount.id}/refresh`)
      expect(res.status).toBe(400)
      expect(res.body.message).toMatch(/OAuth/)
      expect((await server.admin('POST', '/api/admin/claude-accounts/00000000-0000-4000-8000-000000000000/refresh')).status).toBe(404)
      expect(tokens.requests).toEqual([])
    })
  })
})

describe('a second server: other OAuth env, background refresher every second', () => {
  const upstream = new FakeAnthropic()
  const tokens = new FakeOAuthServer()
  const env = {
    CLAUDE_OAUTH_AUTHORIZE_URL: 'https://login.other.test/consent',
    CLAUDE_OAUTH_CLIENT_ID: 'second-client-77aa',
    CLAUDE_OAUTH_REDIRECT_URI: 'https://other-relay.test/done',
    CLAUDE_OAUTH_SCOPES: 'user:inference',
  }
  let server: TestServer

  beforeAll(async () => {
    await Promise.all([upstream.start(), tokens.start()])
    server = await new TestServer({
      ...env, CLAUDE_API_URL: upstream.url, CLAUDE_OAUTH_TOKEN_URL: tokens.url('/oauth/token'),
      OAUTH_REFRESH_INTERVAL_SECONDS: '1', OAUTH_REFRESH_AHEAD_MINUTES: '10',
    }).start()
  })
  afterAll(async () => {
    await server?.stop()
    await Promise.all([upstream.stop(), tokens.stop()])
  })
  afterEach(() => tokens.reset())

  it('generate-auth-url follows this server\'s env (no code change)', async () => {
    const { status, body } = await server.admin<{ authUrl: string }>('POST', '/api/admin/claude-accounts/generate-auth-url', {})
    expect(status).toBe(200)
    const url = new URL(body.authUrl)
    expect(`${url.origin}${url.pathname}`).toBe(env.CLAUDE_OAUTH_AUTHORIZE_URL)
    expect([...url.searchParams.keys()].sort()).toEqual(AUTHORIZE_PARAMS)
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      code: 'true', client_id: env.CLAUDE_OAUTH_CLIENT_ID, redirect_uri: env.CLAUDE_OAUTH_REDIRECT_URI, scope: env.CLAUDE_OAUTH_SCOPES,
    })
  })

  it('refreshes an account expiring within OAUTH_REFRESH_AHEAD_MINUTES without any client request; leaves a later one alone', async () => {
    const due = { refreshToken: secret('rt-due'), expiresAt: Date.now() + 2 * 60_000 }
    const later = { refreshToken: secret('rt-later'), expiresAt: Date.now() + 60 * 60_000 }
    const ids: string[] = []
    for (const a of [due, later]) {
      tokens.addRefreshToken(a.refreshToken)
      const { status, body } = await server.admin<AccountView>('POST', '/api/admin/claude-accounts', {
        type: 'oauth', name: secret('bg'), refreshToken: a.refreshToken, accessToken: secret('at-bg'), expiresAt: a.expiresAt,
      })
      expect(status).toBe(201)
      ids.push(body.id)
    }
    await pollUntil(async () => tokens.refreshCount, n => n >= 1, 15_000)
    expect(tokens.refreshCount).toBe(1)
    expect(tokens.requests[0]!.path).toBe('/oauth/token')
    expect(tokens.requests[0]!.body).toEqual({ grant_type: 'refresh_token', refresh_token: due.refreshToken, client_id: env.CLAUDE_OAUTH_CLIENT_ID })
    expect(upstream.requests).toEqual([])
    const refreshed = await pollUntil(async () => (await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${ids[0]}`)).body,
      v => Date.parse(v.oauth!.expiresAt!) > due.expiresAt + 30 * 60_000, 5000)
    expect(Date.parse(refreshed.oauth!.expiresAt!)).toBeGreaterThan(Date.now() + 50 * 60_000)
    // A few more passes: the refreshed account is not due any more, the later one never was.
    await new Promise(r => setTimeout(r, 2500))
    expect(tokens.refreshCount).toBe(1)
    expect(tokens.requests.some(r => r.body.refresh_token === later.refreshToken)).toBe(false)
  })
})
