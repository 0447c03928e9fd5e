import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FAKE_PROJECT, FakeGemini, GOOGLE_ERRORS } from '../fixtures/gemini-upstream'
import type { RawResponse } from '../helpers/client'
import { TestServer } from '../helpers/server'

// What a Gemini key holder must not be able to do: reach an upstream path or query its key does
// not allow, skip its key's policy on routes that spend no tokens, act on the account's Code
// Assist project or tier, or take a shared account out of the pool with a crafted request.
// The fake Google records every request, so each test checks what the relay sent (or that it sent nothing).

const PRO = 'gemini-2.5-pro'
const FLASH = 'gemini-2.5-flash'
const CLIENT_BODY = { contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] }
const METADATA = { ideType: 'IDE_UNSPECIFIED', platform: 'PLATFORM_UNSPECIFIED', pluginType: 'GEMINI' }
const CLIENTS_PROJECT = 'clients-own-project-77'

const secret = (label: string) => `${label}-${randomBytes(9).toString('hex')}`

interface GoogleErrorBody { error: { code: number, message: string, status: string } }

/**
 * One request with the path sent exactly as written: node:http given a URL string would resolve
 * `..` and `%2e%2e` segments itself (WHATWG URL parsing) before the relay ever saw them.
 */
function call(server: TestServer, path: string, key: string, body?: unknown, method?: string): Promise<RawResponse> {
  const headers: Record<string, string> = { 'x-goog-api-key': key }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const { hostname, port } = new URL(server.url)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

function expectGoogleError(res: RawResponse, status: number, googleStatus: string): GoogleErrorBody['error'] {
  expect({ status: res.status, type: String(res.headers['content-type']) }).toEqual({ status, type: expect.stringMatching(/^application\/json/) })
  const body = JSON.parse(res.body) as GoogleErrorBody
  expect(body.error).toMatchObject({ code: status, status: googleStatus, message: expect.any(String) })
  return body.error
}

function setup(fake: FakeGemini, server: () => TestServer) {
  return {
    async apiKeyAccount(fields: Record<string, unknown> = {}, registered = true) {
      const apiKey = secret('AIzaSy')
      if (registered) fake.addApiKey(apiKey)
      const res = await server().admin<{ id: string }>('POST', '/api/admin/gemini-accounts', { type: 'api-key', name: secret('acct'), apiKey, ...fields })
      expect(res.status).toBe(201)
      return { id: res.body.id, apiKey }
    },
    async oauthAccount(projectId: string | null = FAKE_PROJECT) {
      const accessToken = secret('ya29.at')
      fake.addAccessToken(accessToken)
      const res = await server().admin<{ id: string }>('POST', '/api/admin/gemini-accounts', {
        type: 'oauth', name: secret('oauth'), refreshToken: secret('1//rt'), accessToken, expiresAt: Date.now() + 3600_000, ...(projectId ? { projectId } : {}),
      })
      expect(res.status).toBe(201)
      return { id: res.body.id, accessToken }
    },
    key: (accountId: string, fields: Record<string, unknown> = {}) =>
      server().createKey({ name: secret('key'), permissions: 'gemini', geminiAccountId: accountId, ...fields }),
    state: async (id: string) => (await server().admin<{ status: { state: string } }>('GET', `/api/admin/gemini-accounts/${id}`)).body.status.state,
  }
}

describe('Gemini security', () => {
  const fake = new FakeGemini({ acceptFakeAccessTokens: true })
  let server: TestServer
  const { apiKeyAccount, oauthAccount, key } = setup(fake, () => server)
  let apiKeyHolder = ''
  let oauthHolder = ''
  let oauth: { id: string, accessToken: string }

  beforeAll(async () => {
    await fake.start()
    server = await new TestServer({ GEMINI_API_URL: fake.url, GEMINI_CODE_ASSIST_URL: fake.url, OAUTH_REFRESH_INTERVAL_SECONDS: '0', POOL_WARM_CONNECTIONS: '0' }).start()
    apiKeyHolder = (await key((await apiKeyAccount()).id)).apiKey
    oauth = await oauthAccount()
    oauthHolder = (await key(oauth.id)).apiKey
  })
  afterAll(async () => {
    await server?.stop()
    await fake.stop()
  })
  beforeEach(() => fake.reset())

  describe('path escapes: refused in Google\'s shape, nothing sent upstream', () => {
    it.each([
      ['GET', '/gemini/v1beta/models/..%2Ffiles'],
      ['GET', '/gemini/v1beta/models/..%2f..%2fv1%2Fanything'],
      ['GET', '/api/gemini/v1beta/models/%2E%2E%2Ffiles'],
      ['GET', '/gemini/v1beta/models/%2e%2e/files'],
      ['GET', '/gemini/v1beta/models/..%5Cfiles'],
      ['GET', '/gemini/v1beta/models/..%252Ffiles'],
      ['GET', '/gemini/v1beta/models/models%2Fgemini-2.5-pro'],
      ['GET', '/gemini/v1beta/models/caf%C3%A9'],
      ['GET', '/gemini/v1beta/models/..'],
      ['GET', `/gemini/v1beta/models/${'a'.repeat(300)}`],
      ['GET', '/gemini/v1alpha/models'],
      ['GET', '/gemini/v1beta/files'],
      ['POST', '/gemini/v1beta/models/..%2Ffiles:generateContent'],
      ['POST', '/api/gemini/v1beta/models/..%2F..%2Fv1%2Fanything:countTokens'],
      ['POST', `/gemini/v1beta/models/${PRO}%00:generateContent`],
      ['POST', `/gemini/v1beta/models/${PRO}:generateContent%2F..%2F..%2Ffiles`],
      ['POST', `/gemini/v1beta/models/${PRO}:generateContent/../x`],
      ['POST', `/gemini/v1beta/models/${PRO}:batchGenerateContent`],
      ['POST', '/gemini/v1internal:onboardUser%2F..%2FsetCodeAssistGlobalUserSetting'],
      ['POST', '/gemini/v1internal:setCodeAssistGlobalUserSetting'],
    ])('%s %s', async (method, path) => {
      for (const holder of [apiKeyHolder, oauthHolder]) {
        const res = await call(server, path, holder, method === 'POST' ? CLIENT_BODY : undefined, method)
        expect([400, 404]).toContain(res.status)
        expectGoogleError(res, res.status, res.status === 400 ? 'INVALID_ARGUMENT' : 'NOT_FOUND')
      }
      expect(fake.requests.map(r => `${r.method} ${r.path}`)).toEqual([])
    })

    it('trailing slashes (the router drops them before the relay sees the path) reach Google only as the allow-listed path', async () => {
      expect((await call(server, '/gemini/v1beta/models/', apiKeyHolder)).status).toBe(200)
      expect((await call(server, `/gemini/v1beta/models/${PRO}/`, apiKeyHolder)).status).toBe(200)
      expect(fake.requests.map(r => r.path)).toEqual(['/v1beta/models', `/v1beta/models/${PRO}`])
    })

    it('a malformed escape (%E0) → 400 INVALID_ARGUMENT, not 500, and no error in the log', async () => {
      const logged = server.output.length
      for (const path of ['/gemini/v1beta/models/%E0', `/gemini/v1beta/models/%E0:generateContent`, '/api/gemini/v1/models/gemini%E0%A4']) {
        const res = await call(server, path, apiKeyHolder, path.includes(':') ? CLIENT_BODY : undefined)
        expectGoogleError(res, 400, 'INVALID_ARGUMENT')
      }
      expect(fake.requests).toEqual([])
      await new Promise(r => setTimeout(r, 100))
      expect(server.output.slice(logged)).not.toMatch(/relay handler failed|URIError/)
    })

    it('the query sent upstream is an allow-list: alt=sse on streams, pageSize/pageToken on lists; the client\'s other parameters never', async () => {
      const list = await call(server, `/gemini/v1beta/models?pageSize=5&pageToken=tok_1&key=${apiKeyHolder}&foo=bar&%24.xgafv=2&alt=media`, apiKeyHolder)
      expect(list.status).toBe(200)
      const stream = await call(server, `/gemini/v1beta/models/${PRO}:streamGenerateContent?alt=sse&upload_protocol=raw&pageSize=2`, apiKeyHolder, CLIENT_BODY)
      expect(stream.status).toBe(200)
      const one = await call(server, `/gemini/v1/models/${FLASH}?alt=sse&fields=x`, apiKeyHolder)
      expect(one.status).toBe(200)
      const generate = await call(server, `/gemini/v1beta/models/${PRO}:generateContent?alt=sse&callback=x`, apiKeyHolder, CLIENT_BODY)
      expect(generate.status).toBe(200)
      const internal = await call(server, '/gemini/v1internal:streamGenerateContent?alt=sse&foo=bar', oauthHolder, { model: PRO, request: CLIENT_BODY })
      expect(internal.status).toBe(200)
      expect(fake.requests.map(r => r.path)).toEqual([
        '/v1beta/models?pageSize=5&pageToken=tok_1', `/v1beta/models/${PRO}:streamGenerateContent?alt=sse`, `/v1/models/${FLASH}`,
        `/v1beta/models/${PRO}:generateContent`, '/v1internal:streamGenerateContent?alt=sse',
      ])
      expect(fake.saw(apiKeyHolder)).toBe(false)
    })

    it.each(['pageSize=0', 'pageSize=abc', 'pageSize=100000', 'pageToken=..%2F..%2Ffiles', 'pageToken=a%26key%3Dx'])('a bad list parameter (%s) → 400, nothing sent upstream', async (q) => {
      expectGoogleError(await call(server, `/gemini/v1beta/models?${q}`, apiKeyHolder), 400, 'INVALID_ARGUMENT')
      expect(fake.requests).toEqual([])
    })
  })

  describe('every route is under the key\'s policy', () => {
    /** Starts a request the fake holds for `ms`, and waits until the fake has it (its lease is then held). */
    async function holdLease(path: string, holder: string, body: unknown, ms: number): Promise<{ pending: Promise<RawResponse> }> {
      fake.behaviour.headerDelayMs = ms
      const before = fake.requests.length
      const pending = call(server, path, holder, body)
      const until = Date.now() + 5000
      while (fake.requests.length === before && Date.now() < until) await new Promise(r => setTimeout(r, 10))
      expect(fake.requests.length).toBe(before + 1)
      // Wrapped: an async function returning the bare promise would wait for the response.
      return { pending }
    }

    it('API-key account: with its one concurrency slot in use, countTokens and the model lists → 429, nothing sent upstream', async () => {
      const holder = (await key((await apiKeyAccount()).id, { concurrencyLimit: 1 })).apiKey
      const running = await holdLease(`/gemini/v1beta/models/${PRO}:generateContent`, holder, CLIENT_BODY, 1500)
      for (const [path, body] of [[`/gemini/v1beta/models/${PRO}:countTokens`, CLIENT_BODY], ['/gemini/v1beta/models', undefined], [`/api/gemini/v1/models/${PRO}`, undefined]] as const) {
        expectGoogleError(await call(server, path, holder, body), 429, 'RESOURCE_EXHAUSTED')
      }
      expect(fake.requests).toHaveLength(1)
      expect((await running.pending).status).toBe(200)
      // The leases of refused and finished requests are given back: the key serves again.
      fake.behaviour.headerDelayMs = 0
      expect((await call(server, `/gemini/v1beta/models/${PRO}:countTokens`, holder, CLIENT_BODY)).status).toBe(200)
      expect((await call(server, '/gemini/v1beta/models', holder)).status).toBe(200)
    })

    it('OAuth account: with its one concurrency slot in use, v1internal setup calls, countTokens and the (local) model list → 429, nothing sent upstream', async () => {
      const holder = (await key(oauth.id, { concurrencyLimit: 1 })).apiKey
      const running = await holdLease('/gemini/v1internal:generateContent', holder, { model: PRO, request: CLIENT_BODY }, 1500)
      for (const method of ['loadCodeAssist', 'onboardUser', 'listExperiments', 'retrieveUserQuota']) {
        expectGoogleError(await call(server, `/gemini/v1internal:${method}`, holder, { metadata: METADATA }), 429, 'RESOURCE_EXHAUSTED')
      }
      expectGoogleError(await call(server, '/gemini/v1internal:countTokens', holder, { request: { model: `models/${PRO}`, contents: CLIENT_BODY.contents } }), 429, 'RESOURCE_EXHAUSTED')
      expectGoogleError(await call(server, `/gemini/v1beta/models/${PRO}:countTokens`, holder, CLIENT_BODY), 429, 'RESOURCE_EXHAUSTED')
      expectGoogleError(await call(server, '/gemini/v1beta/models', holder), 429, 'RESOURCE_EXHAUSTED')
      expect(fake.requests).toHaveLength(1)
      expect((await running.pending).status).toBe(200)
      fake.behaviour.headerDelayMs = 0
      expect((await call(server, '/gemini/v1internal:loadCodeAssist', holder, { metadata: METADATA })).status).toBe(200)
    })

    it('a key past its activation period → 401 on countTokens, model lists and setup calls too, nothing sent upstream', async () => {
      const apiHolder = await key((await apiKeyAccount()).id, { activationDays: 1 })
      const oauthKey = await key(oauth.id, { activationDays: 1 })
      // First used two days ago: expired by its activation period.
      for (const k of [apiHolder, oauthKey]) await server.redis.hset(`api_key:${k.id}`, 'activatedAtMs', String(Date.now() - 2 * 86_400_000), 'activatedAt', new Date(Date.now() - 2 * 86_400_000).toISOString())
      expectGoogleError(await call(server, `/gemini/v1beta/models/${PRO}:countTokens`, apiHolder.apiKey, CLIENT_BODY), 401, 'UNAUTHENTICATED')
      expectGoogleError(await call(server, '/gemini/v1beta/models', apiHolder.apiKey), 401, 'UNAUTHENTICATED')
      expectGoogleError(await call(server, `/gemini/v1/models/${PRO}`, apiHolder.apiKey), 401, 'UNAUTHENTICATED')
      for (const method of ['loadCodeAssist', 'onboardUser', 'listExperiments', 'retrieveUserQuota']) {
        expectGoogleError(await call(server, `/gemini/v1internal:${method}`, oauthKey.apiKey, { metadata: METADATA }), 401, 'UNAUTHENTICATED')
      }
      expectGoogleError(await call(server, '/gemini/v1beta/models', oauthKey.apiKey), 401, 'UNAUTHENTICATED')
      expect(fake.requests).toEqual([])
    })

    it('a model outside the key\'s allow-list is refused on countTokens, models/{id} and v1internal calls (path or body)', async () => {
      const flashOnly = (await key(oauth.id, { allowedModels: [FLASH] })).apiKey
      const apiFlashOnly = (await key((await apiKeyAccount()).id, { allowedModels: [FLASH] })).apiKey
      expectGoogleError(await call(server, `/gemini/v1beta/models/${PRO}:countTokens`, apiFlashOnly, CLIENT_BODY), 403, 'PERMISSION_DENIED')
      expectGoogleError(await call(server, `/gemini/v1beta/models/${PRO}`, apiFlashOnly), 403, 'PERMISSION_DENIED')
      // The allowed model in the path, another in the body: refused, not sent.
      expectGoogleError(await call(server, `/gemini/v1beta/models/${FLASH}:generateContent`, apiFlashOnly, { ...CLIENT_BODY, model: `models/${PRO}` }), 400, 'INVALID_ARGUMENT')
      expectGoogleError(await call(server, `/gemini/v1beta/models/${FLASH}:countTokens`, apiFlashOnly, { generateContentRequest: { ...CLIENT_BODY, model: `models/${PRO}` } }), 400, 'INVALID_ARGUMENT')
      expectGoogleError(await call(server, `/gemini/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`, flashOnly, { ...CLIENT_BODY, model: PRO }), 400, 'INVALID_ARGUMENT')
      expectGoogleError(await call(server, '/gemini/v1internal:countTokens', flashOnly, { request: { model: `models/${PRO}`, contents: CLIENT_BODY.contents } }), 403, 'PERMISSION_DENIED')
      expectGoogleError(await call(server, '/gemini/v1internal:generateContent', flashOnly, { model: PRO, request: CLIENT_BODY }), 403, 'PERMISSION_DENIED')
      // The allowed model on top, another inside the request: refused, not sent.
      expectGoogleError(await call(server, '/gemini/v1internal:generateContent', flashOnly, { model: FLASH, request: { ...CLIENT_BODY, model: PRO } }), 400, 'INVALID_ARGUMENT')
      expect(fake.requests).toEqual([])
      expect((await call(server, '/gemini/v1internal:generateContent', flashOnly, { model: FLASH, request: CLIENT_BODY })).status).toBe(200)
      expect((await call(server, `/gemini/v1beta/models/${FLASH}:generateContent`, apiFlashOnly, { ...CLIENT_BODY, model: `models/${FLASH}` })).status).toBe(200)
      expect(fake.requests.map(r => r.rpc)).toEqual(['generateContent', 'generateContent'])
    })
  })

  describe('v1internal: the relay builds every upstream body; project and tier come from the account', () => {
    it('generateContent / streamGenerateContent take only model, request, user_prompt_id and session_id; project is the account\'s', async () => {
      const body = { model: PRO, project: CLIENTS_PROJECT, user_prompt_id: 'prompt-1', session_id: 'session-1', request: CLIENT_BODY, tierId: 'standard-tier', extra: { a: 1 } }
      expect((await call(server, '/gemini/v1internal:generateContent', oauthHolder, body)).status).toBe(200)
      expect(fake.last('generateContent').body).toEqual({ model: PRO, project: FAKE_PROJECT, user_prompt_id: 'prompt-1', session_id: 'session-1', request: CLIENT_BODY })
      expect((await call(server, '/api/gemini/v1internal:streamGenerateContent?alt=sse', oauthHolder, { ...body, model: `models/${FLASH}` })).status).toBe(200)
      expect(fake.last('streamGenerateContent').body).toEqual({ model: FLASH, project: FAKE_PROJECT, user_prompt_id: 'prompt-1', session_id: 'session-1', request: CLIENT_BODY })
      expect(fake.saw(CLIENTS_PROJECT)).toBe(false)
    })

    it('countTokens takes only request (its model normalized); loadCodeAssist, listExperiments and retrieveUserQuota get relay-built bodies', async () => {
      const count = await call(server, '/gemini/v1internal:countTokens', oauthHolder, { project: CLIENTS_PROJECT, extra: 1, request: { model: `models/${PRO}`, contents: CLIENT_BODY.contents } })
      expect(count.status).toBe(200)
      expect(fake.last('countTokens').body).toEqual({ request: { model: `models/${PRO}`, contents: CLIENT_BODY.contents } })

      const clientMetadata = { ...METADATA, duetProject: CLIENTS_PROJECT, pluginVersion: 'x' }
      expect((await call(server, '/gemini/v1internal:loadCodeAssist', oauthHolder, { cloudaicompanionProject: CLIENTS_PROJECT, metadata: clientMetadata })).status).toBe(200)
      expect(fake.last('loadCodeAssist').body).toEqual({ cloudaicompanionProject: FAKE_PROJECT, metadata: { ...METADATA, duetProject: FAKE_PROJECT } })
      expect((await call(server, '/gemini/v1internal:listExperiments', oauthHolder, { project: CLIENTS_PROJECT, metadata: clientMetadata })).status).toBe(200)
      expect(fake.last('listExperiments').body).toEqual({ project: FAKE_PROJECT, metadata: METADATA })
      expect((await call(server, '/gemini/v1internal:retrieveUserQuota', oauthHolder, { project: CLIENTS_PROJECT, userAgent: 'x' })).status).toBe(200)
      expect(fake.last('retrieveUserQuota').body).toEqual({ project: FAKE_PROJECT })
      expect(fake.saw(CLIENTS_PROJECT)).toBe(false)
    })

    it('onboardUser is answered by the relay from the account\'s project: the client\'s tier and project never reach Google', async () => {
      const res = await call(server, '/gemini/v1internal:onboardUser', oauthHolder, { tierId: 'standard-tier', cloudaicompanionProject: CLIENTS_PROJECT, metadata: METADATA })
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body)).toMatchObject({ done: true, response: { cloudaicompanionProject: { id: FAKE_PROJECT } } })
      expect(fake.requests).toEqual([])
    })

    it('an account without a project: onboardUser from a client onboards it on the default tier (relay-built bodies), never the client\'s', async () => {
      const project = secret('onboarded')
      fake.behaviour = { ...fake.behaviour, needsOnboarding: true, onboardPolls: 1, project }
      const fresh = await oauthAccount(null)
      const holder = (await key(fresh.id)).apiKey
      const res = await call(server, '/gemini/v1internal:onboardUser', holder, { tierId: 'standard-tier', cloudaicompanionProject: CLIENTS_PROJECT, metadata: METADATA })
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body)).toMatchObject({ done: true, response: { cloudaicompanionProject: { id: project } } })
      const onboard = fake.calls('onboardUser')
      expect(onboard.length).toBeGreaterThanOrEqual(1)
      expect(onboard.every(r => r.body?.tierId === 'free-tier')).toBe(true)
      expect(fake.saw(CLIENTS_PROJECT)).toBe(false)
      expect(fake.saw('standard-tier')).toBe(false)
    })

    it.each([
      ['no model', { request: CLIENT_BODY }],
      ['a model that is a path', { model: '../../v1/files', request: CLIENT_BODY }],
      ['a model that is not a string', { model: { id: PRO }, request: CLIENT_BODY }],
      ['no request', { model: PRO }],
      ['a request that is not an object', { model: PRO, request: [CLIENT_BODY] }],
      ['a user_prompt_id that is not a string', { model: PRO, request: CLIENT_BODY, user_prompt_id: 7 }],
      ['a session_id of 10 kB', { model: PRO, request: CLIENT_BODY, session_id: 'x'.repeat(10_000) }],
    ])('generateContent with %s → 400 INVALID_ARGUMENT, nothing sent', async (_, body) => {
      expectGoogleError(await call(server, '/gemini/v1internal:generateContent', oauthHolder, body), 400, 'INVALID_ARGUMENT')
      expect(fake.requests).toEqual([])
    })
  })
})

describe('Gemini account health: only Google\'s structured fields say an account is broken', () => {
  const fake = new FakeGemini()
  let server: TestServer
  const { apiKeyAccount, state } = setup(fake, () => server)
  let a: { id: string, apiKey: string }
  let b: { id: string, apiKey: string }

  beforeAll(async () => {
    await fake.start()
    server = await new TestServer({ GEMINI_API_URL: fake.url, GEMINI_CODE_ASSIST_URL: fake.url, POOL_WARM_CONNECTIONS: '0' }).start()
    a = await apiKeyAccount({ priority: 1 })
    b = await apiKeyAccount({ priority: 2 })
  })
  afterAll(async () => {
    await server?.stop()
    await fake.stop()
  })
  beforeEach(() => fake.reset())

  it('a 400 whose message echoes "API key not valid" (a field the client named) reaches the client; the account stays in the pool for every tenant', async () => {
    const attacker = (await server.createKey({ name: secret('attacker'), permissions: 'gemini' })).apiKey
    const tenant = (await server.createKey({ name: secret('tenant'), permissions: 'gemini' })).apiKey
    const field = GOOGLE_ERRORS.apiKeyInvalid.body.match(/API key not valid[^"]*/)![0]
    const res = await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, attacker, { ...CLIENT_BODY, [field]: 1 })
    expect(expectGoogleError(res, 400, 'INVALID_ARGUMENT').message).toContain('API key not valid')
    expect(fake.requests.map(r => r.credential)).toEqual([a.apiKey])
    expect(await state(a.id)).toBe('active')
    expect((await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, tenant, CLIENT_BODY)).status).toBe(200)
    expect(fake.requests.map(r => r.credential)).toEqual([a.apiKey, a.apiKey])
  })

  it('Google\'s structured API_KEY_INVALID (ErrorInfo reason) marks the account error; the request fails over', async () => {
    const broken = await apiKeyAccount({ priority: 0 }, false)
    const tenant = (await server.createKey({ name: secret('tenant'), permissions: 'gemini' })).apiKey
    const res = await call(server, `/gemini/v1beta/models/${PRO}:generateContent`, tenant, CLIENT_BODY)
    expect(res.status).toBe(200)
    expect(fake.requests.map(r => r.credential)).toEqual([broken.apiKey, a.apiKey])
    expect(fake.requests[0]!.response).toBe(GOOGLE_ERRORS.apiKeyInvalid.body)
    expect(await state(broken.id)).toBe('error')
    expect(await state(b.id)).toBe('active')
  })
})
