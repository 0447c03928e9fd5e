import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FAKE_PROJECT, FakeGemini, GOOGLE_ERRORS } from '../fixtures/gemini-upstream'
import { type RawResponse, rawRequest } from '../helpers/client'
import { TestServer } from '../helpers/server'

// What a Gemini key holder must not be able to do: reach an upstream path or query its key does
// not allow, skip its key's policy on routes that spend no tokens, act on the account's Code
// Assist project or tier, or take a shared account out of the pool with a crafted request.
// The fake Google records every request, so each test checks what the relay sent (or that it sent nothing).

const PRO = 'gemini-2.5-pro'
const CLIENT_BODY = { contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] }

const secret = (label: string) => `${label}-${randomBytes(9).toString('hex')}`

interface GoogleErrorBody { error: { code: number, message: string, status: string } }

function call(server: TestServer, path: string, key: string, body?: unknown, method?: string): Promise<RawResponse> {
  const headers: Record<string, string> = { 'x-goog-api-key': key }
  if (body !== undefined) headers['content-type'] = 'application/json'
  return rawRequest(`${server.url}${path}`, { method: method ?? (body === undefined ? 'GET' : 'POST'), headers, body: body === undefined ? undefined : JSON.stringify(body) })
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
