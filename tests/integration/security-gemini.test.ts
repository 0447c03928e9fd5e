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

    it('a malformed escape (%E0) → 400 INVALID_ARGUMENT, not 500', async () => {
      for (const path of ['/gemini/v1beta/models/%E0', `/gemini/v1beta/models/%E0:generateContent`, '/api/gemini/v1/models/gemini%E0%A4']) {
        const res = await call(server, path, apiKeyHolder, path.includes(':') ? CLIENT_BODY : undefined)
        expectGoogleError(res, 400, 'INVALID_ARGUMENT')
      }
      expect(fake.requests).toEqual([])
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
