import { createHash, randomBytes } from 'node:crypto'
import { GoogleGenAI } from '@google/genai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  codeAssistJson, codeAssistSseEvents, countTokensJson, FAKE_PROJECT, FakeGemini, type GeminiRequest, type GeminiUsage, geminiChunks,
  geminiJson, geminiJsonArray, geminiResponse, geminiSseEvents, geminiText, modelJson, modelsListJson, TRACE_ID, UPSTREAM_ONLY_HEADER,
} from '../fixtures/gemini-upstream'
import { FAKE_GOOGLE_USER, FakeOAuthServer } from '../fixtures/oauth-server'
import { Socks5Proxy } from '../fixtures/proxies'
import { pollUntil, type RawResponse, rawRequest } from '../helpers/client'
import { dumpPrefix } from '../helpers/redis-dump'
import { TestServer } from '../helpers/server'

// Gemini end to end: the built server against a fake Google (Generative Language API for API-key
// accounts, Code Assist for OAuth accounts, one FakeGemini serving both), a fake Google token
// endpoint and a SOCKS5 proxy, with real Redis. Relay requests use keys bound to the account under
// test, so accounts made by other tests never serve them; failover and "no account" run on a
// second server whose pool the tests control.

interface GeminiAccountView {
  id: string
  platform: string
  type: 'oauth' | 'api-key'
  name: string
  description: string
  priority: number
  isActive: boolean
  accountType: string
  proxy: string | null
  baseUrl: string
  projectId: string | null
  oauth: { expiresAt: string | null, scopes: string[], email: string | null } | null
  status: { state: string, reason?: string, until?: string | null }
  createdAt: string
  updatedAt: string
  lastUsedAt: string | null
}
interface GoogleErrorBody { error: { code: number, message: string, status: string } }
interface Totals { requests: number, inputTokens: number, outputTokens: number, cacheCreate5m: number, cacheCreate1h: number, cacheRead: number, aborted: number, costMicros: number }
interface UsageView { total: Totals & { models: Record<string, Totals> }, daily: (Totals & { date: string, models: Record<string, Totals> })[] }

const GOOGLE_SCOPES = 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile'
const AUTHORIZE_PARAMS = ['client_id', 'redirect_uri', 'response_type', 'scope', 'access_type', 'prompt', 'code_challenge', 'code_challenge_method', 'state'].sort()
const OAUTH_ENV = {
  GOOGLE_OAUTH_AUTHORIZE_URL: 'https://accounts.example.test/o/oauth2/v2/auth',
  GEMINI_OAUTH_CLIENT_ID: 'test-gemini-client',
  GEMINI_OAUTH_CLIENT_SECRET: 'test-secret',
  GEMINI_OAUTH_REDIRECT_URI: 'https://relay.example.test/authcode',
  OAUTH_REFRESH_INTERVAL_SECONDS: '0',
  POOL_WARM_CONNECTIONS: '0',
}
const PRO = 'gemini-2.5-pro'
const FLASH = 'gemini-2.5-flash'
const CLIENT_BODY = { contents: [{ role: 'user', parts: [{ text: 'Tell me a joke about relays' }] }], generationConfig: { temperature: 0.2, maxOutputTokens: 256 } }

/** A unique secret-looking value (so a leak of it anywhere is unambiguous). */
const secret = (label: string) => `${label}-${randomBytes(9).toString('hex')}`
const sha256 = (v: string) => createHash('sha256').update(v).digest('base64url')

type KeyIn = 'x-goog-api-key' | 'query' | 'x-api-key' | 'bearer'
interface CallOptions { key?: string, keyIn?: KeyIn, body?: unknown, rawBody?: string, method?: string }

/** One relay request on a fresh connection, the client key placed where `keyIn` says. */
function call(server: TestServer, path: string, o: CallOptions = {}): Promise<RawResponse> {
  const headers: Record<string, string> = {}
  let url = `${server.url}${path}`
  if (o.key) {
    const keyIn = o.keyIn ?? 'x-goog-api-key'
    if (keyIn === 'query') url += `${url.includes('?') ? '&' : '?'}key=${encodeURIComponent(o.key)}`
    else if (keyIn === 'bearer') headers.authorization = `Bearer ${o.key}`
    else headers[keyIn] = o.key
  }
  const body = o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body))
  if (body !== undefined) headers['content-type'] = 'application/json'
  return rawRequest(url, { method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, body })
}

/** The status and Google-shaped error of an answer (fails unless it is one). */
function expectGoogleError(res: RawResponse, status: number, googleStatus: string): GoogleErrorBody['error'] {
  expect(res.status).toBe(status)
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/)
  const body = JSON.parse(res.body) as GoogleErrorBody
  expect(body.error).toMatchObject({ code: status, status: googleStatus, message: expect.any(String) })
  expect(body.error.message.length).toBeGreaterThan(0)
  return body.error
}

/** The JSON of every `data:` event of an SSE body (either line ending). */
function sseData(text: string): unknown[] {
  return text.split(/\r?\n\r?\n/).filter(e => e.trim()).map(e =>
    JSON.parse(e.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).trim()).join('\n')))
}

/** The relay's usage counters for one request with this upstream usage (Gemini → relay terms). */
// promptTokenCount includes the cached tokens: input is the uncached part, the cached part a cache
// read, so cached tokens are never charged twice.
const countsOf = (u: GeminiUsage, requests = 1) => ({
  requests,
  inputTokens: u.promptTokenCount - u.cachedContentTokenCount,
  outputTokens: u.candidatesTokenCount + u.thoughtsTokenCount,
  cacheRead: u.cachedContentTokenCount,
  cacheCreate5m: 0,
  cacheCreate1h: 0,
})

const bearerOf = (r: GeminiRequest) => r.headers.authorization

/** Account helpers shared by both servers: every account's credentials are registered at the fake. */
function accountHelpers(server: () => TestServer, gemini: FakeGemini, tokens?: FakeOAuthServer) {
  const adminPost = async (body: Record<string, unknown>) => {
    const { status, body: view } = await server().admin<GeminiAccountView>('POST', '/api/admin/gemini-accounts', body)
    expect(status).toBe(201)
    return view
  }
  return {
    async apiKeyAccount(fields: Record<string, unknown> = {}, fake = gemini) {
      const apiKey = secret('AIzaSy')
      fake.addApiKey(apiKey)
      const view = await adminPost({ type: 'api-key', name: secret('api-key-account'), apiKey, ...fields })
      return { id: view.id, view, apiKey }
    },
    /** An imported OAuth account (oauth_creds.json); `projectId: null` leaves the project to discovery. */
    async oauthAccount(fields: { expiresAt?: number | string, projectId?: string | null, proxy?: string } = {}) {
      const accessToken = secret('ya29.at')
      const refreshToken = secret('1//rt')
      gemini.addAccessToken(accessToken)
      tokens?.addRefreshToken(refreshToken)
      const { projectId = FAKE_PROJECT, expiresAt = Date.now() + 3600_000, ...rest } = fields
      const view = await adminPost({ type: 'oauth', name: secret('oauth-account'), refreshToken, accessToken, expiresAt, ...(projectId ? { projectId } : {}), ...rest })
      return { id: view.id, view, accessToken, refreshToken }
    },
    /** A Gemini key only this account serves. */
    boundKey: (accountId: string, fields: Record<string, unknown> = {}) =>
      server().createKey({ name: secret('gemini-key'), permissions: 'gemini', geminiAccountId: accountId, ...fields }),
    view: async (id: string) => {
      const res = await server().admin<GeminiAccountView>('GET', `/api/admin/gemini-accounts/${id}`)
      expect(res.status).toBe(200)
      return res.body
    },
  }
}

describe('Gemini', () => {
  const gemini = new FakeGemini({ acceptFakeAccessTokens: true })
  /** A second Generative Language API, for an account's own baseUrl. */
  const elsewhere = new FakeGemini()
  const tokens = new FakeOAuthServer()
  const socks = new Socks5Proxy({ user: 'socks-user', pass: secret('socks-pass') })
  let server: TestServer
  const { apiKeyAccount, oauthAccount, boundKey, view } = accountHelpers(() => server, gemini, tokens)

  beforeAll(async () => {
    await Promise.all([gemini.start(), elsewhere.start(), tokens.start(), socks.start()])
    server = await new TestServer({
      ...OAUTH_ENV, GEMINI_API_URL: gemini.url, GEMINI_CODE_ASSIST_URL: gemini.url, GOOGLE_OAUTH_TOKEN_URL: tokens.url('/token'),
    }).start()
  })
  afterAll(async () => {
    await server?.stop()
    await Promise.all([gemini.stop(), elsewhere.stop(), tokens.stop(), socks.stop()])
  })
  beforeEach(() => {
    gemini.reset()
    elsewhere.reset()
    tokens.reset()
    socks.reset()
  })

  const adminHeaders = async () => ({ 'authorization': `Bearer ${await server.adminToken()}`, 'content-type': 'application/json' })

  describe('admin: OAuth onboarding', () => {
    it('generate-auth-url needs an admin; answers {authUrl, sessionId, expiresAt} with Google\'s PKCE parameters from the env', async () => {
      const anonymous = await fetch(`${server.url}/api/admin/gemini-accounts/generate-auth-url`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      expect(anonymous.status).toBe(401)
      const anonymousList = await fetch(`${server.url}/api/admin/gemini-accounts`)
      expect(anonymousList.status).toBe(401)

      const { status, body } = await server.admin<{ authUrl: string, sessionId: string, expiresAt: string }>('POST', '/api/admin/gemini-accounts/generate-auth-url', {})
      expect(status).toBe(200)
      expect(Object.keys(body).sort()).toEqual(['authUrl', 'expiresAt', 'sessionId'])
      expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now())
      const url = new URL(body.authUrl)
      expect(`${url.origin}${url.pathname}`).toBe(OAUTH_ENV.GOOGLE_OAUTH_AUTHORIZE_URL)
      expect([...url.searchParams.keys()].sort()).toEqual(AUTHORIZE_PARAMS)
      const q = Object.fromEntries(url.searchParams)
      expect(q).toMatchObject({
        client_id: OAUTH_ENV.GEMINI_OAUTH_CLIENT_ID, redirect_uri: OAUTH_ENV.GEMINI_OAUTH_REDIRECT_URI, response_type: 'code',
        scope: GOOGLE_SCOPES, access_type: 'offline', prompt: 'consent', code_challenge_method: 'S256',
      })
      expect(q.code_challenge).toMatch(/^[\w-]{43}$/)
      expect(q.state).toMatch(/^[\w-]{16,}$/)
      // The client secret is for the token endpoint only.
      expect(body.authUrl).not.toContain(OAUTH_ENV.GEMINI_OAUTH_CLIENT_SECRET)
      const again = new URL((await server.admin<{ authUrl: string }>('POST', '/api/admin/gemini-accounts/generate-auth-url', {})).body.authUrl)
      expect(again.searchParams.get('state')).not.toBe(q.state)
      expect(again.searchParams.get('code_challenge')).not.toBe(q.code_challenge)
    })

    it('exchange-code through a SOCKS5 proxy with credentials: bare code → 201 OAuth account; the form-encoded token request went through the proxy, and so do relayed requests', async () => {
      const { status, body: auth } = await server.admin<{ authUrl: string, sessionId: string }>('POST', '/api/admin/gemini-accounts/generate-auth-url', { proxy: socks.url() })
      expect(status).toBe(200)
      const challenge = new URL(auth.authUrl).searchParams.get('code_challenge')!
      const code = secret('4/0AbUR2V-code')
      tokens.expectCode(code, challenge)
      const project = secret('exchanged-project')
      gemini.addProject(project)
      const before = Date.now()
      const res = await rawRequest(`${server.url}/api/admin/gemini-accounts/exchange-code`, {
        headers: await adminHeaders(),
        body: JSON.stringify({ sessionId: auth.sessionId, code, name: 'google-login', projectId: project, priority: 7, description: 'via socks' }),
      })
      expect(res.status).toBe(201)
      const account = JSON.parse(res.body) as GeminiAccountView
      expect(account).toMatchObject({
        platform: 'gemini', type: 'oauth', name: 'google-login', priority: 7, description: 'via socks', projectId: project,
        isActive: true, status: { state: 'active' }, oauth: { email: FAKE_GOOGLE_USER.email },
      })
      expect(account.oauth!.scopes).toContain('https://www.googleapis.com/auth/cloud-platform')
      const expiresAt = Date.parse(account.oauth!.expiresAt!)
      expect(expiresAt).toBeGreaterThanOrEqual(before + 3600_000 - 1000)
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000)

      // One token request, form-encoded (Google's token endpoint), with the PKCE verifier and the client secret.
      expect(tokens.requests).toHaveLength(1)
      const req = tokens.requests[0]!
      expect(req.encoding).toBe('form')
      expect(Object.keys(req.body).sort()).toEqual(['client_id', 'client_secret', 'code', 'code_verifier', 'grant_type', 'redirect_uri'])
      expect(req.body).toMatchObject({
        grant_type: 'authorization_code', code, client_id: OAUTH_ENV.GEMINI_OAUTH_CLIENT_ID,
        client_secret: OAUTH_ENV.GEMINI_OAUTH_CLIENT_SECRET, redirect_uri: OAUTH_ENV.GEMINI_OAUTH_REDIRECT_URI,
      })
      expect(sha256(req.body.code_verifier as string)).toBe(challenge)
      const tunnel = socks.connections.filter(t => t.target === `127.0.0.1:${tokens.port}`)
      expect(tunnel).toEqual([expect.objectContaining({ user: 'socks-user' })])
      expect(req.remotePort).toBe(tunnel[0]!.localPort)

      for (const s of [/fake-access-/, /fake-refresh-/, code, req.body.code_verifier as string, socks.auth!.pass, OAUTH_ENV.GEMINI_OAUTH_CLIENT_SECRET]) expect(res.body).not.toMatch(s)
      expect(account.proxy).toBe(`socks5://socks-user:***@127.0.0.1:${socks.port}`)
      expect((await view(account.id)).proxy).toBe(account.proxy)

      // The account relays with the token it was issued, in its project, through the session's proxy.
      const { apiKey } = await boundKey(account.id)
      const relayed = await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: apiKey, body: CLIENT_BODY })
      expect(relayed.status).toBe(200)
      const got = gemini.last('generateContent')
      expect(bearerOf(got)).toMatch(/^Bearer fake-access-\d+$/)
      expect(got.body?.project).toBe(project)
      expect(socks.connections.find(c => c.localPort === got.remotePort)?.target).toBe(new URL(gemini.url).host)
    })

    it('exchange-code with the whole callback URL (code & state); a wrong state → 400 before any token request', async () => {
      const { body: auth } = await server.admin<{ authUrl: string, sessionId: string }>('POST', '/api/admin/gemini-accounts/generate-auth-url', {})
      const url = new URL(auth.authUrl)
      const state = url.searchParams.get('state')!
      const code = secret('4/0AbUR2V-callback')
      tokens.expectCode(code, url.searchParams.get('code_challenge')!)
      // Google's redirect carries state, code and the granted scopes.
      const callback = (s: string) => `${OAUTH_ENV.GEMINI_OAUTH_REDIRECT_URI}?state=${encodeURIComponent(s)}&code=${encodeURIComponent(code)}&scope=${encodeURIComponent(GOOGLE_SCOPES)}`
      const exchange = (s: string) => server.admin<GeminiAccountView & { message: string }>('POST', '/api/admin/gemini-accounts/exchange-code', { sessionId: auth.sessionId, code: callback(s), name: 'pasted-url' })

      const wrong = await exchange(secret('someone-elses-state'))
      expect(wrong.status).toBe(400)
      expect(wrong.body.message).toMatch(/state/i)
      expect(tokens.requests).toEqual([])

      const ok = await exchange(state)
      expect(ok.status).toBe(201)
      expect(ok.body).toMatchObject({ platform: 'gemini', type: 'oauth', name: 'pasted-url', proxy: null })
      expect(tokens.requests).toHaveLength(1)
      expect(tokens.requests[0]!.body.code).toBe(code)
      expect(socks.connections).toEqual([])
    })
  })

  describe('admin: accounts', () => {
    it('imports {type: oauth} and creates {type: api-key} → 201 views without any secret (also not in Redis); list, get, update, delete', async () => {
      const accessToken = secret('ya29.imported')
      const refreshToken = secret('1//imported')
      const expiresAt = Math.floor(Date.now() / 1000) * 1000 + 3600_000
      const oauthRes = await server.admin<GeminiAccountView>('POST', '/api/admin/gemini-accounts', {
        type: 'oauth', name: 'imported-creds', refreshToken, accessToken, expiresAt: new Date(expiresAt).toISOString(), projectId: 'imported-project',
      })
      expect(oauthRes.status).toBe(201)
      const oauth = oauthRes.body
      expect(oauth).toMatchObject({
        platform: 'gemini', type: 'oauth', name: 'imported-creds', projectId: 'imported-project', isActive: true, priority: 50,
        proxy: null, oauth: { expiresAt: new Date(expiresAt).toISOString() }, status: { state: 'active' },
      })
      for (const field of ['id', 'platform', 'type', 'name', 'description', 'priority', 'isActive', 'accountType', 'proxy', 'baseUrl', 'projectId', 'oauth', 'status', 'createdAt', 'updatedAt', 'lastUsedAt']) {
        expect(oauth).toHaveProperty(field)
      }

      const upstreamKey = secret('AIzaSyCreate')
      const keyRes = await server.admin<GeminiAccountView>('POST', '/api/admin/gemini-accounts', {
        type: 'api-key', name: 'studio-key', apiKey: upstreamKey, baseUrl: elsewhere.url, priority: 3, proxy: socks.url(),
      })
      expect(keyRes.status).toBe(201)
      const apiKeyAccount = keyRes.body
      expect(apiKeyAccount).toMatchObject({
        platform: 'gemini', type: 'api-key', name: 'studio-key', baseUrl: elsewhere.url, priority: 3, oauth: null,
        proxy: `socks5://socks-user:***@127.0.0.1:${socks.port}`,
      })

      const list = await server.admin<{ items: GeminiAccountView[], total: number }>('GET', '/api/admin/gemini-accounts')
      expect(list.status).toBe(200)
      expect(list.body.total).toBe(list.body.items.length)
      expect(list.body.items.map(a => a.id)).toEqual(expect.arrayContaining([oauth.id, apiKeyAccount.id]))
      expect(list.body.items.every(a => a.platform === 'gemini')).toBe(true)
      const claude = await server.admin<{ items: { id: string }[] }>('GET', '/api/admin/claude-accounts')
      expect(claude.body.items.map(a => a.id)).not.toContain(oauth.id)

      const texts = [JSON.stringify(oauth), JSON.stringify(apiKeyAccount), JSON.stringify(list.body), JSON.stringify(await view(oauth.id)), JSON.stringify(await view(apiKeyAccount.id))]
      const dump = [...(await dumpPrefix(server.redis, server.prefix)).values()].join('\n')
      expect(dump).toContain(oauth.id)
      for (const text of [...texts, dump]) {
        for (const s of [accessToken, refreshToken, upstreamKey, socks.auth!.pass]) expect(text).not.toContain(s)
      }

      const put = await server.admin<GeminiAccountView>('PUT', `/api/admin/gemini-accounts/${apiKeyAccount.id}`, { name: 'renamed', priority: 9, isActive: false })
      expect(put.status).toBe(200)
      expect(put.body).toMatchObject({ name: 'renamed', priority: 9, isActive: false, type: 'api-key', baseUrl: elsewhere.url })
      expect(await view(apiKeyAccount.id)).toMatchObject({ name: 'renamed', priority: 9, isActive: false })

      expect((await server.admin('DELETE', `/api/admin/gemini-accounts/${apiKeyAccount.id}`)).status).toBe(200)
      expect((await server.admin('GET', `/api/admin/gemini-accounts/${apiKeyAccount.id}`)).status).toBe(404)
      expect((await server.admin<{ items: { id: string }[] }>('GET', '/api/admin/gemini-accounts')).body.items.map(a => a.id)).not.toContain(apiKeyAccount.id)
    })

    it.each([
      ['an api-key account without apiKey', { type: 'api-key', name: 'no key' }],
      ['an oauth account without refreshToken', { type: 'oauth', name: 'no token', accessToken: 'ya29.x' }],
      ['a Claude account type', { type: 'console', name: 'wrong platform', apiKey: 'sk-ant-x' }],
    ])('refuses %s with 400', async (_, body) => {
      const before = (await server.admin<{ total: number }>('GET', '/api/admin/gemini-accounts')).body.total
      expect((await server.admin('POST', '/api/admin/gemini-accounts', body)).status).toBe(400)
      expect((await server.admin<{ total: number }>('GET', '/api/admin/gemini-accounts')).body.total).toBe(before)
    })

    it('POST :id/refresh refreshes an OAuth account now (form-encoded with the client secret); an api-key account → 400', async () => {
      const account = await oauthAccount({ expiresAt: Date.now() + 30 * 60_000 })
      tokens.behaviour.expiresIn = 7200
      const res = await server.admin<GeminiAccountView>('POST', `/api/admin/gemini-accounts/${account.id}/refresh`)
      expect(res.status).toBe(200)
      expect(tokens.requests).toHaveLength(1)
      expect(tokens.requests[0]!.encoding).toBe('form')
      expect(tokens.requests[0]!.body).toEqual({
        grant_type: 'refresh_token', refresh_token: account.refreshToken,
        client_id: OAUTH_ENV.GEMINI_OAUTH_CLIENT_ID, client_secret: OAUTH_ENV.GEMINI_OAUTH_CLIENT_SECRET,
      })
      expect(Date.parse(res.body.oauth!.expiresAt!)).toBeGreaterThan(Date.now() + 7000_000)
      expect(JSON.stringify(res.body)).not.toMatch(/fake-access-|fake-refresh-/)

      const keyed = await apiKeyAccount()
      expect((await server.admin('POST', `/api/admin/gemini-accounts/${keyed.id}/refresh`)).status).toBe(400)
      expect(tokens.requests).toHaveLength(1)
    })
  })

  describe('relay: API-key account → Generative Language API', () => {
    let account: { id: string, apiKey: string }
    let key: { id: string, apiKey: string }
    beforeAll(async () => {
      account = await apiKeyAccount()
      key = await boundKey(account.id)
    })

    it.each([
      { keyIn: 'x-goog-api-key' as const, prefix: '/api/gemini' },
      { keyIn: 'query' as const, prefix: '/gemini' },
      { keyIn: 'x-api-key' as const, prefix: '/api/gemini' },
      { keyIn: 'bearer' as const, prefix: '/gemini' },
    ])('generateContent, client key in $keyIn under $prefix: the account\'s key upstream, the answer byte for byte', async ({ keyIn, prefix }) => {
      const res = await call(server, `${prefix}/v1beta/models/${PRO}:generateContent`, { key: key.apiKey, keyIn, body: CLIENT_BODY })
      expect(res.status).toBe(200)
      expect(String(res.headers['content-type'])).toMatch(/^application\/json/)
      expect(res.body).toBe(geminiJson(gemini.behaviour, PRO))
      expect(res.headers[UPSTREAM_ONLY_HEADER]).toBeUndefined()

      expect(gemini.requests).toHaveLength(1)
      const got = gemini.last()
      expect(got.method).toBe('POST')
      expect(got.path).toBe(`/v1beta/models/${PRO}:generateContent`)
      expect(got.headers['x-goog-api-key']).toBe(account.apiKey)
      expect(got.headers.authorization).toBeUndefined()
      expect(got.body).toEqual(CLIENT_BODY)
      expect(gemini.saw(key.apiKey)).toBe(false)
    })

    it('streamGenerateContent?alt=sse: text/event-stream, byte for byte, each chunk passed on while the upstream is still streaming', async () => {
      gemini.behaviour.delayMs = 150
      const res = await fetch(`${server.url}/gemini/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`, {
        method: 'POST', headers: { 'x-goog-api-key': key.apiKey, 'content-type': 'application/json' }, body: JSON.stringify(CLIENT_BODY),
      })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
      const reader = res.body!.getReader()
      const first = await reader.read()
      expect(Buffer.from(first.value!).toString('utf8')).toMatch(/^data: /)
      // Not buffered: the upstream has more to send when the first chunk reaches the client.
      expect(gemini.last().completed).toBe(false)
      let text = Buffer.from(first.value!).toString('utf8')
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString('utf8')
      expect(text).toBe(geminiSseEvents(gemini.behaviour, FLASH).join(''))
      expect(gemini.last().path).toBe(`/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`)
      expect(gemini.saw(key.apiKey)).toBe(false)
    })

    it('streamGenerateContent without alt=sse (v1): the streamed JSON array, byte for byte', async () => {
      const res = await call(server, `/api/gemini/v1/models/${PRO}:streamGenerateContent`, { key: key.apiKey, body: CLIENT_BODY })
      expect(res.status).toBe(200)
      expect(String(res.headers['content-type'])).toMatch(/^application\/json/)
      expect(res.body).toBe(geminiJsonArray(gemini.behaviour, PRO).join(''))
      expect(gemini.last().path).toBe(`/v1/models/${PRO}:streamGenerateContent`)
    })

    it('countTokens, the model list and one model (v1beta and v1) pass through byte for byte', async () => {
      const count = await call(server, `/gemini/v1beta/models/${PRO}:countTokens`, { key: key.apiKey, body: { contents: CLIENT_BODY.contents } })
      expect(count.status).toBe(200)
      expect(count.body).toBe(countTokensJson(gemini.behaviour, 'generative-language'))
      const list = await call(server, '/gemini/v1beta/models', { key: key.apiKey })
      expect(list.status).toBe(200)
      expect(list.body).toBe(modelsListJson())
      const one = await call(server, `/api/gemini/v1/models/${FLASH}`, { key: key.apiKey, keyIn: 'query' })
      expect(one.status).toBe(200)
      expect(one.body).toBe(modelJson(FLASH))
      expect(gemini.requests.map(r => [r.method, r.path])).toEqual([
        ['POST', `/v1beta/models/${PRO}:countTokens`], ['GET', '/v1beta/models'], ['GET', `/v1/models/${FLASH}`],
      ])
      expect(gemini.requests.every(r => r.headers['x-goog-api-key'] === account.apiKey)).toBe(true)
      expect(gemini.saw(key.apiKey)).toBe(false)
    })

    it('an upstream error about the request (unknown model) reaches the client as Google sent it; the account stays active', async () => {
      const res = await call(server, '/gemini/v1beta/models/gemini-9-ultra:generateContent', { key: key.apiKey, body: CLIENT_BODY })
      expectGoogleError(res, 404, 'NOT_FOUND')
      expect(res.body).toBe(gemini.last().response)
      expect(gemini.requests).toHaveLength(1)
      expect((await view(account.id)).status.state).toBe('active')
    })

    it('an account with its own baseUrl is served there, not at GEMINI_API_URL', async () => {
      const own = await apiKeyAccount({ baseUrl: elsewhere.url }, elsewhere)
      const ownKey = await boundKey(own.id)
      const res = await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: ownKey.apiKey, body: CLIENT_BODY })
      expect(res.status).toBe(200)
      expect(res.body).toBe(geminiJson(elsewhere.behaviour, PRO))
      expect(elsewhere.requests).toHaveLength(1)
      expect(elsewhere.last().headers['x-goog-api-key']).toBe(own.apiKey)
      expect(gemini.requests).toEqual([])
    })
  })

  describe('relay: OAuth account → Code Assist', () => {
    it('generateContent → /v1internal:generateContent {model, project, request} with the account\'s bearer token; the answer unwrapped', async () => {
      const account = await oauthAccount()
      const { apiKey } = await boundKey(account.id)
      const res = await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: apiKey, body: CLIENT_BODY })
      expect(res.status).toBe(200)
      expect(String(res.headers['content-type'])).toMatch(/^application\/json/)
      expect(JSON.parse(res.body)).toEqual(geminiResponse(gemini.behaviour, PRO))
      expect(res.body).not.toContain(TRACE_ID)
      expect(res.headers[UPSTREAM_ONLY_HEADER]).toBeUndefined()

      // The project was given: no discovery call.
      expect(gemini.requests.map(r => r.rpc)).toEqual(['generateContent'])
      const got = gemini.last()
      expect(got).toMatchObject({ api: 'code-assist', method: 'POST', path: '/v1internal:generateContent' })
      expect(bearerOf(got)).toBe(`Bearer ${account.accessToken}`)
      expect(got.headers['x-goog-api-key']).toBeUndefined()
      expect(got.body).toMatchObject({ model: PRO, project: FAKE_PROJECT })
      expect(got.body!.request).toEqual(CLIENT_BODY)
      expect(gemini.saw(apiKey)).toBe(false)
      // A token valid for an hour is used as it is.
      expect(tokens.requests).toEqual([])
    })

    it('streamGenerateContent?alt=sse → Code Assist SSE; every event carries the unwrapped chunk', async () => {
      const account = await oauthAccount()
      const { apiKey } = await boundKey(account.id)
      gemini.behaviour.deltas = ['One', ' two', ' three', ' four', ' five']
      const res = await call(server, `/api/gemini/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`, { key: apiKey, body: CLIENT_BODY })
      expect(res.status).toBe(200)
      expect(String(res.headers['content-type'])).toMatch(/^text\/event-stream/)
      expect(sseData(res.body)).toEqual(geminiChunks(gemini.behaviour, FLASH))
      expect(res.body).not.toContain(TRACE_ID)
      const got = gemini.last()
      expect(got.path).toBe('/v1internal:streamGenerateContent?alt=sse')
      expect(got.body).toMatchObject({ model: FLASH, project: FAKE_PROJECT, request: CLIENT_BODY })
      expect(bearerOf(got)).toBe(`Bearer ${account.accessToken}`)
    })

    it('streamGenerateContent without alt=sse → a JSON array of the unwrapped chunks', async () => {
      const account = await oauthAccount()
      const { apiKey } = await boundKey(account.id)
      const res = await call(server, `/gemini/v1beta/models/${PRO}:streamGenerateContent`, { key: apiKey, body: CLIENT_BODY })
      expect(res.status).toBe(200)
      expect(String(res.headers['content-type'])).toMatch(/^application\/json/)
      expect(JSON.parse(res.body)).toEqual(geminiChunks(gemini.behaviour, PRO))
      expect(gemini.last().rpc).toBe('streamGenerateContent')
    })

    it('countTokens → /v1internal:countTokens; the client gets {totalTokens}', async () => {
      const account = await oauthAccount()
      const { apiKey } = await boundKey(account.id)
      gemini.behaviour.usage = { ...gemini.behaviour.usage, promptTokenCount: 77 }
      const res = await call(server, `/gemini/v1beta/models/${PRO}:countTokens`, { key: apiKey, body: { contents: CLIENT_BODY.contents } })
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body)).toMatchObject({ totalTokens: 77 })
      const got = gemini.last()
      expect(got).toMatchObject({ api: 'code-assist', rpc: 'countTokens' })
      expect(got.body!.request!.contents).toEqual(CLIENT_BODY.contents)
      expect(bearerOf(got)).toBe(`Bearer ${account.accessToken}`)
    })

    it('no projectId: loadCodeAssist discovers the project once; it is used, cached and shown on the account', async () => {
      const project = secret('discovered-project')
      gemini.behaviour.project = project
      const account = await oauthAccount({ projectId: null })
      expect(account.view.projectId).toBeNull()
      const { apiKey } = await boundKey(account.id)

      expect((await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: apiKey, body: CLIENT_BODY })).status).toBe(200)
      const load = gemini.calls('loadCodeAssist')
      expect(load).toHaveLength(1)
      expect(bearerOf(load[0]!)).toBe(`Bearer ${account.accessToken}`)
      expect(load[0]!.body?.metadata).toEqual(expect.any(Object))
      expect(gemini.requests.indexOf(load[0]!)).toBeLessThan(gemini.requests.indexOf(gemini.last('generateContent')))
      expect(gemini.last('generateContent').body?.project).toBe(project)

      expect((await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: apiKey, body: CLIENT_BODY })).status).toBe(200)
      expect(gemini.calls('loadCodeAssist')).toHaveLength(1)
      expect(gemini.calls('generateContent').map(r => r.body?.project)).toEqual([project, project])
      expect((await view(account.id)).projectId).toBe(project)
    })

    it('no tier yet: onboardUser (the default tier) polled until done, then the request is served in the new project', async () => {
      const project = secret('onboarded-project')
      gemini.behaviour = { ...gemini.behaviour, needsOnboarding: true, onboardPolls: 1, project }
      const account = await oauthAccount({ projectId: null })
      const { apiKey } = await boundKey(account.id)

      const res = await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: apiKey, body: CLIENT_BODY })
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body)).toEqual(geminiResponse(gemini.behaviour, PRO))
      expect(gemini.calls('loadCodeAssist').length).toBeGreaterThanOrEqual(1)
      const onboard = gemini.calls('onboardUser')
      expect(onboard).toHaveLength(2) // once not done, then done
      expect(onboard.every(r => r.body?.tierId === 'free-tier' && bearerOf(r) === `Bearer ${account.accessToken}`)).toBe(true)
      expect(gemini.last('generateContent').body?.project).toBe(project)
      expect((await view(account.id)).projectId).toBe(project)
    })

    it('v1internal methods reach Code Assist with the account\'s token and relay-built bodies in the account\'s project; answers byte for byte; onboardUser is answered by the relay', async () => {
      const account = await oauthAccount()
      const { apiKey } = await boundKey(account.id)
      const metadata = { ideType: 'IDE_UNSPECIFIED', platform: 'PLATFORM_UNSPECIFIED', pluginType: 'GEMINI' }
      const passThrough = async (prefix: string, method: string, body: unknown) => {
        const res = await call(server, `${prefix}/v1internal:${method}`, { key: apiKey, body })
        expect(res.status).toBe(200)
        const got = gemini.last()
        expect(got.path).toBe(`/v1internal:${method}`)
        expect(bearerOf(got)).toBe(`Bearer ${account.accessToken}`)
        expect(res.body).toBe(got.response)
        return { res, got }
      }
      expect((await passThrough('/gemini', 'loadCodeAssist', { metadata })).got.body).toEqual({ cloudaicompanionProject: FAKE_PROJECT, metadata: { ...metadata, duetProject: FAKE_PROJECT } })
      // The account is onboarded already (its project): a client's onboardUser never picks a tier.
      const before = gemini.requests.length
      const onboard = await call(server, '/api/gemini/v1internal:onboardUser', { key: apiKey, body: { tierId: 'free-tier', metadata } })
      expect(onboard.status).toBe(200)
      expect(JSON.parse(onboard.body)).toMatchObject({ done: true, response: { cloudaicompanionProject: { id: FAKE_PROJECT } } })
      expect(gemini.requests).toHaveLength(before)
      await passThrough('/gemini', 'listExperiments', { metadata })
      await passThrough('/api/gemini', 'retrieveUserQuota', { project: FAKE_PROJECT })

      const generate = await passThrough('/gemini', 'generateContent', { model: PRO, project: 'clients-own-project', user_prompt_id: 'prompt-1', request: CLIENT_BODY })
      expect(generate.res.body).toBe(codeAssistJson(gemini.behaviour, PRO))
      expect(generate.got.body).toEqual({ model: PRO, project: FAKE_PROJECT, user_prompt_id: 'prompt-1', request: CLIENT_BODY })

      const stream = await call(server, '/api/gemini/v1internal:streamGenerateContent?alt=sse', { key: apiKey, body: { model: FLASH, user_prompt_id: 'prompt-2', request: CLIENT_BODY } })
      expect(stream.status).toBe(200)
      expect(String(stream.headers['content-type'])).toMatch(/^text\/event-stream/)
      expect(stream.body).toBe(codeAssistSseEvents(gemini.behaviour, FLASH).join(''))
      expect(gemini.last().path).toBe('/v1internal:streamGenerateContent?alt=sse')
      expect(gemini.last().body).toMatchObject({ model: FLASH, project: FAKE_PROJECT, request: CLIENT_BODY })

      const count = await passThrough('/gemini', 'countTokens', { request: { model: `models/${PRO}`, contents: CLIENT_BODY.contents } })
      expect(count.res.body).toBe(countTokensJson(gemini.behaviour, 'code-assist'))
      expect(count.got.body!.request).toEqual({ model: `models/${PRO}`, contents: CLIENT_BODY.contents })

      expect(gemini.saw(apiKey)).toBe(false)
    })

    it('a token expiring in 5 s is refreshed first (form-encoded, with the client secret); the request carries the new token', async () => {
      const account = await oauthAccount({ expiresAt: Date.now() + 5000 })
      const { apiKey } = await boundKey(account.id)
      expect((await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: apiKey, body: CLIENT_BODY })).status).toBe(200)

      expect(tokens.refreshCount).toBe(1)
      const req = tokens.requests[0]!
      expect(req.encoding).toBe('form')
      expect(req.body).toEqual({
        grant_type: 'refresh_token', refresh_token: account.refreshToken,
        client_id: OAUTH_ENV.GEMINI_OAUTH_CLIENT_ID, client_secret: OAUTH_ENV.GEMINI_OAUTH_CLIENT_SECRET,
      })
      expect(gemini.requests).toHaveLength(1)
      const bearer = bearerOf(gemini.last())
      expect(bearer).toMatch(/^Bearer fake-access-\d+$/)
      expect(Date.parse((await view(account.id)).oauth!.expiresAt!)).toBeGreaterThan(Date.now() + 3000_000)

      // Stored: the next request uses the same new token without another refresh.
      expect((await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: apiKey, body: CLIENT_BODY })).status).toBe(200)
      expect(bearerOf(gemini.last())).toBe(bearer)
      expect(tokens.refreshCount).toBe(1)
    })
  })

  describe('errors in Google\'s shape', () => {
    it.each(['/api/gemini', '/gemini'])('%s: no key or an unknown key → 401 UNAUTHENTICATED, nothing sent upstream', async (prefix) => {
      expectGoogleError(await call(server, `${prefix}/v1beta/models/${PRO}:generateContent`, { body: CLIENT_BODY }), 401, 'UNAUTHENTICATED')
      expectGoogleError(await call(server, `${prefix}/v1beta/models/${PRO}:streamGenerateContent?alt=sse`, { key: 'cr_not-a-real-key', body: CLIENT_BODY }), 401, 'UNAUTHENTICATED')
      expectGoogleError(await call(server, `${prefix}/v1beta/models`, { key: 'cr_not-a-real-key', keyIn: 'query' }), 401, 'UNAUTHENTICATED')
      expectGoogleError(await call(server, `${prefix}/v1internal:loadCodeAssist`, { body: { metadata: {} } }), 401, 'UNAUTHENTICATED')
      expect(gemini.requests).toEqual([])
    })

    it('a claude-only key → 403 PERMISSION_DENIED; a model outside allowedModels → 403; the allowed model is served', async () => {
      const account = await apiKeyAccount()
      const claudeOnly = await server.createKey({ name: secret('claude-only'), permissions: 'claude', geminiAccountId: account.id })
      expectGoogleError(await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: claudeOnly.apiKey, body: CLIENT_BODY }), 403, 'PERMISSION_DENIED')
      const flashOnly = await boundKey(account.id, { allowedModels: [FLASH] })
      const denied = expectGoogleError(await call(server, `/gemini/v1beta/models/${PRO}:streamGenerateContent?alt=sse`, { key: flashOnly.apiKey, body: CLIENT_BODY }), 403, 'PERMISSION_DENIED')
      expect(denied.message).toContain(PRO)
      expect(gemini.requests).toEqual([])
      expect((await call(server, `/gemini/v1beta/models/${FLASH}:generateContent`, { key: flashOnly.apiKey, body: CLIENT_BODY })).status).toBe(200)
      expect(gemini.requests).toHaveLength(1)
    })

    it('a body that is not JSON → 400 INVALID_ARGUMENT, nothing sent upstream', async () => {
      const keyed = await boundKey((await apiKeyAccount()).id)
      const oauth = await boundKey((await oauthAccount()).id)
      expectGoogleError(await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: keyed.apiKey, rawBody: '{"contents": [' }), 400, 'INVALID_ARGUMENT')
      expectGoogleError(await call(server, `/gemini/v1beta/models/${PRO}:streamGenerateContent?alt=sse`, { key: oauth.apiKey, rawBody: '{"contents": [' }), 400, 'INVALID_ARGUMENT')
      expectGoogleError(await call(server, '/api/gemini/v1internal:generateContent', { key: oauth.apiKey, rawBody: 'not json' }), 400, 'INVALID_ARGUMENT')
      expect(gemini.requests).toEqual([])
    })
  })

  describe('usage', () => {
    const JSON_USAGE: GeminiUsage = { promptTokenCount: 1200, candidatesTokenCount: 345, thoughtsTokenCount: 67, cachedContentTokenCount: 400 }
    const STREAM_USAGE: GeminiUsage = { promptTokenCount: 2100, candidatesTokenCount: 512, thoughtsTokenCount: 128, cachedContentTokenCount: 1024 }

    const adminUsage = async (keyId: string) => {
      const res = await server.admin<{ usage: UsageView, recent: { model: string, aborted: boolean }[] }>('GET', `/api/admin/api-keys/${keyId}/usage?days=1`)
      expect(res.status).toBe(200)
      return res.body
    }
    /** Polls until `requests` are recorded (recording follows the response by a few ms). */
    const usageAfter = (keyId: string, requests: number) => pollUntil(() => adminUsage(keyId), u => u.usage.total.requests >= requests, 5000)

    it.each(['api-key', 'oauth'] as const)('%s account: a non-streamed and a streamed request are recorded exactly, per model', async (kind) => {
      const account = kind === 'api-key' ? await apiKeyAccount() : await oauthAccount()
      // permissions 'all': the key may read its own usage on /api/v1/usage too.
      const key = await boundKey(account.id, { permissions: 'all' })
      gemini.behaviour.usage = JSON_USAGE
      const first = await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key: key.apiKey, body: CLIENT_BODY })
      expect(first.status).toBe(200)
      const one = await usageAfter(key.id, 1)
      expect(one.usage.total).toMatchObject({ ...countsOf(JSON_USAGE), aborted: 0 })

      gemini.behaviour.usage = STREAM_USAGE
      const second = await call(server, `/gemini/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`, { key: key.apiKey, body: CLIENT_BODY })
      expect(second.status).toBe(200)
      const { usage, recent } = await usageAfter(key.id, 2)
      const both = countsOf({
        promptTokenCount: JSON_USAGE.promptTokenCount + STREAM_USAGE.promptTokenCount,
        candidatesTokenCount: JSON_USAGE.candidatesTokenCount + STREAM_USAGE.candidatesTokenCount,
        thoughtsTokenCount: JSON_USAGE.thoughtsTokenCount + STREAM_USAGE.thoughtsTokenCount,
        cachedContentTokenCount: JSON_USAGE.cachedContentTokenCount + STREAM_USAGE.cachedContentTokenCount,
      }, 2)
      expect(usage.total).toMatchObject({ ...both, aborted: 0 })
      expect(usage.total.costMicros).toBeGreaterThan(0)
      expect(Object.keys(usage.total.models).sort()).toEqual([FLASH, PRO])
      expect(usage.total.models[PRO]).toMatchObject(countsOf(JSON_USAGE))
      expect(usage.total.models[FLASH]).toMatchObject(countsOf(STREAM_USAGE))
      expect(usage.daily[0]).toMatchObject(both)
      expect(usage.daily[0]!.models[FLASH]).toMatchObject(countsOf(STREAM_USAGE))
      expect(recent.map(r => r.model).sort()).toEqual([FLASH, PRO])

      // The key's own view agrees.
      const own = await fetch(`${server.url}/api/v1/usage`, { headers: { 'x-api-key': key.apiKey } })
      expect(own.status).toBe(200)
      expect(((await own.json()) as UsageView).total).toEqual(usage.total)
    })

    it('a stream the client drops after the first chunk: recorded with the prompt tokens seen and flagged aborted; the upstream request is cancelled', async () => {
      const account = await apiKeyAccount()
      const key = await boundKey(account.id)
      gemini.behaviour = { ...gemini.behaviour, usage: STREAM_USAGE, delayMs: 100, deltas: Array.from({ length: 30 }, (_, i) => `word${i} `) }
      const ac = new AbortController()
      const res = await fetch(`${server.url}/gemini/v1beta/models/${PRO}:streamGenerateContent?alt=sse`, {
        method: 'POST', signal: ac.signal, headers: { 'x-goog-api-key': key.apiKey, 'content-type': 'application/json' }, body: JSON.stringify(CLIENT_BODY),
      })
      expect(res.status).toBe(200)
      const reader = res.body!.getReader()
      let seen = ''
      while (!/^data: .*\r?\n\r?\n/.test(seen)) {
        const { done, value } = await reader.read()
        expect(done).toBe(false)
        seen += Buffer.from(value!).toString('utf8')
      }
      expect(seen).not.toContain('finishReason')
      ac.abort()
      await reader.read().catch(() => { /* aborted, as intended */ })

      expect(await gemini.waitForAbort(3000)).toBe(true)
      const { usage } = await usageAfter(key.id, 1)
      // Only partial usage (the prompt) had arrived; the final counts never came.
      expect(usage.total).toMatchObject({ requests: 1, aborted: 1, inputTokens: STREAM_USAGE.promptTokenCount, outputTokens: 0, cacheRead: 0 })
      expect(usage.total.models[PRO]).toMatchObject({ requests: 1, aborted: 1, inputTokens: STREAM_USAGE.promptTokenCount })
    })

    it('a stream the upstream cuts after two chunks: the client gets those bytes; usage flagged aborted with the prompt tokens', async () => {
      const key = await boundKey((await apiKeyAccount()).id)
      gemini.behaviour = { ...gemini.behaviour, usage: STREAM_USAGE, mode: 'reset', resetAfter: 2, delayMs: 20, deltas: ['a ', 'b ', 'c ', 'd ', 'e '] }
      const res = await fetch(`${server.url}/gemini/v1beta/models/${PRO}:streamGenerateContent?alt=sse`, {
        method: 'POST', headers: { 'x-goog-api-key': key.apiKey, 'content-type': 'application/json' }, body: JSON.stringify(CLIENT_BODY),
      })
      expect(res.status).toBe(200)
      const reader = res.body!.getReader()
      let text = ''
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString('utf8')
      }
      catch { /* the relay may end the cut stream with an error of its own */ }
      expect(text.startsWith(geminiSseEvents(gemini.behaviour, PRO).slice(0, 2).join(''))).toBe(true)
      expect(text).not.toContain('finishReason')
      const { usage } = await usageAfter(key.id, 1)
      expect(usage.total).toMatchObject({ requests: 1, aborted: 1, inputTokens: STREAM_USAGE.promptTokenCount, outputTokens: 0 })
    })
  })

  describe('the official SDK (@google/genai) as a client', () => {
    it.each(['api-key', 'oauth'] as const)('%s account: generateContent and generateContentStream give the fake\'s text', async (kind) => {
      const account = kind === 'api-key' ? await apiKeyAccount() : await oauthAccount()
      const { apiKey } = await boundKey(account.id)
      const ai = new GoogleGenAI({ apiKey, httpOptions: { baseUrl: `${server.url}/gemini` } })

      const answer = await ai.models.generateContent({ model: FLASH, contents: 'hi' })
      expect(answer.text).toBe(geminiText(gemini.behaviour))
      expect(answer.usageMetadata?.promptTokenCount).toBe(gemini.behaviour.usage.promptTokenCount)

      const texts: string[] = []
      for await (const chunk of await ai.models.generateContentStream({ model: FLASH, contents: 'hi again' })) texts.push(chunk.text ?? '')
      expect(texts.join('')).toBe(geminiText(gemini.behaviour))
      expect(texts).toHaveLength(gemini.behaviour.deltas.length)

      expect(gemini.requests.map(r => r.rpc)).toEqual(['generateContent', 'streamGenerateContent'])
      const credential = kind === 'api-key' ? (account as { apiKey: string }).apiKey : (account as { accessToken: string }).accessToken
      expect(gemini.requests.every(r => r.credential === credential)).toBe(true)
      expect(gemini.saw(apiKey)).toBe(false)
    })
  })
})

describe('Gemini pool: no account, then failover between two API-key accounts', () => {
  const gemini = new FakeGemini()
  let server: TestServer
  const { apiKeyAccount, view } = accountHelpers(() => server, gemini)
  let key = ''

  beforeAll(async () => {
    await gemini.start()
    server = await new TestServer({ ...OAUTH_ENV, GEMINI_API_URL: gemini.url, GEMINI_CODE_ASSIST_URL: gemini.url, ACCOUNT_COOLDOWN_SECONDS: '30' }).start()
    key = (await server.createKey({ name: 'gemini-pool', permissions: 'gemini' })).apiKey
  })
  afterAll(async () => {
    await server?.stop()
    await gemini.stop()
  })
  beforeEach(() => gemini.reset())

  const generate = () => call(server, `/gemini/v1beta/models/${PRO}:generateContent`, { key, body: CLIENT_BODY })

  it('no Gemini account (a Claude one does not count) → 503 UNAVAILABLE, nothing sent upstream', async () => {
    await server.createConsoleAccount('http://127.0.0.1:9', { name: 'claude-only-account' })
    expectGoogleError(await generate(), 503, 'UNAVAILABLE')
    expectGoogleError(await call(server, `/api/gemini/v1beta/models/${PRO}:streamGenerateContent?alt=sse`, { key, body: CLIENT_BODY }), 503, 'UNAVAILABLE')
    expect(gemini.requests).toEqual([])
  })

  describe('A (priority 1) and B (priority 2)', () => {
    let a: { id: string, apiKey: string }
    let b: { id: string, apiKey: string }
    beforeAll(async () => {
      a = await apiKeyAccount({ name: 'A', priority: 1 })
      b = await apiKeyAccount({ name: 'B', priority: 2 })
    })
    beforeEach(async () => {
      for (const id of [a.id, b.id]) expect((await server.admin('POST', `/api/admin/gemini-accounts/${id}/reset-state`)).status).toBe(200)
    })
    const credentials = () => gemini.requests.map(r => r.credential)

    it('A is preferred while it is healthy', async () => {
      expect((await generate()).status).toBe(200)
      expect(credentials()).toEqual([a.apiKey])
    })

    it('Gemini CLI\'s own call with API-key accounts only → 503 saying it needs an OAuth account (no retry-after), nothing sent upstream', async () => {
      const res = await call(server, '/gemini/v1internal:generateContent', { key, body: { model: PRO, project: 'p', request: CLIENT_BODY } })
      expect(expectGoogleError(res, 503, 'UNAVAILABLE').message).toBe('No Gemini account can serve this request: Gemini CLI\'s calls need a Gemini OAuth account; '
        + 'every active Gemini account is an API-key account (ask the admin).')
      expect(res.headers['retry-after']).toBeUndefined()
      expect(gemini.requests).toEqual([])
    })

    it('429 RESOURCE_EXHAUSTED on A: B serves the same request; A is rate limited until ≈ now + RetryInfo (17 s) and skipped', async () => {
      gemini.behaveFor(a.apiKey, { mode: 'error429' })
      const before = Date.now()
      const res = await call(server, `/gemini/v1beta/models/${PRO}:streamGenerateContent?alt=sse`, { key, body: CLIENT_BODY })
      expect(res.status).toBe(200)
      expect(res.body).toBe(geminiSseEvents(gemini.behaviour, PRO).join(''))
      expect(credentials()).toEqual([a.apiKey, b.apiKey])

      const stateA = (await view(a.id)).status
      expect(stateA.state).toBe('rate_limited')
      const until = Date.parse(stateA.until!)
      expect(until).toBeGreaterThanOrEqual(before + 17_000 - 1500)
      expect(until).toBeLessThanOrEqual(Date.now() + 17_000 + 1500)
      expect((await view(b.id)).status.state).toBe('active')

      expect((await generate()).status).toBe(200)
      expect(credentials()).toEqual([a.apiKey, b.apiKey, b.apiKey])
    })

    it('500 INTERNAL on A: B serves; A cools down', async () => {
      gemini.behaveFor(a.apiKey, { mode: 'error500' })
      const res = await generate()
      expect(res.status).toBe(200)
      expect(res.body).toBe(geminiJson(gemini.behaviour, PRO))
      expect(credentials()).toEqual([a.apiKey, b.apiKey])
      expect((await view(a.id)).status.state).toBe('cooldown')
      expect((await view(b.id)).status.state).toBe('active')
    })

    it('503 UNAVAILABLE on A: B serves; A is out of the pool for now', async () => {
      gemini.behaveFor(a.apiKey, { mode: 'error503' })
      expect((await generate()).status).toBe(200)
      expect(credentials()).toEqual([a.apiKey, b.apiKey])
      expect((await view(a.id)).status.state).not.toBe('active')
      expect((await generate()).status).toBe(200)
      expect(credentials()).toEqual([a.apiKey, b.apiKey, b.apiKey])
    })

    it('both failing: the last upstream error reaches the client in Google\'s shape; then 503 UNAVAILABLE without an upstream call', async () => {
      gemini.behaviour.mode = 'error500'
      expectGoogleError(await generate(), 500, 'INTERNAL')
      expect(credentials()).toEqual([a.apiKey, b.apiKey])
      expectGoogleError(await generate(), 503, 'UNAVAILABLE')
      expect(gemini.requests).toHaveLength(2)
    })
  })
})
