import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic, sseEvents } from '../fixtures/anthropic-upstream'
import { messageBody, rawRequest, type RawResponse } from '../helpers/client'
import { freePort, TestServer } from '../helpers/server'

interface AnthropicErrorBody { type: string, error: { type: string, message: string } }

/** Asserts an Anthropic-shaped error with exactly this status and error type; returns the body. */
function expectAnthropicError(res: RawResponse, status: number, type: string): AnthropicErrorBody {
  expect(res.status).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/json/)
  const body = JSON.parse(res.body) as AnthropicErrorBody
  expect(body).toEqual({ type: 'error', error: { type, message: expect.any(String) } })
  expect(body.error.message.length).toBeGreaterThan(0)
  return body
}

const upstream = new FakeAnthropic()
beforeAll(async () => {
  await upstream.start()
})
afterAll(async () => {
  await upstream.stop()
})
beforeEach(() => upstream.reset())

describe('relay errors', () => {
  const server = new TestServer()
  let apiKey = ''
  let accountId = ''

  beforeAll(async () => {
    await server.start()
    accountId = (await server.createConsoleAccount(upstream.url)).id
    apiKey = (await server.createKey({ name: 'relay-errors' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
  })

  // An upstream error in one test leaves the account cooling down: give every test a clean pool.
  beforeEach(() => server.resetAccountStates())
  const send = (headers: Record<string, string>, body = messageBody(), path = '/api/v1/messages') =>
    rawRequest(`${server.url}${path}`, { headers: { 'content-type': 'application/json', ...headers }, body })
  const withKey = (key: string, body?: string) => send({ 'x-api-key': key }, body)

  describe('authentication', () => {
    it('refuses a request without a key: 401 authentication_error', async () => {
      expectAnthropicError(await send({}), 401, 'authentication_error')
      expect(upstream.requests).toHaveLength(0)
    })

    it.each([
      ['x-api-key', (k: string) => ({ 'x-api-key': k })],
      ['Authorization: Bearer', (k: string) => ({ authorization: `Bearer ${k}` })],
    ])('refuses an unknown cr_ key sent as %s: 401', async (_, header) => {
      const unknown = `cr_${'0123456789abcdef'.repeat(4)}`
      expectAnthropicError(await send(header(unknown)), 401, 'authentication_error')
      expect(upstream.requests).toHaveLength(0)
    })

    it('refuses a key right after it is disabled (the lookup cache is invalidated)', async () => {
      const key = await server.createKey({ name: 'to-disable' })
      expect((await withKey(key.apiKey)).status).toBe(200) // now cached in the server
      expect((await server.admin('PUT', `/api/admin/api-keys/${key.id}`, { isActive: false })).status).toBe(200)
      const body = expectAnthropicError(await withKey(key.apiKey), 401, 'authentication_error')
      expect(body.error.message).toMatch(/disabled/i)
      expect(upstream.requests).toHaveLength(1)

      expect((await server.admin('PUT', `/api/admin/api-keys/${key.id}`, { isActive: true })).status).toBe(200)
      expect((await withKey(key.apiKey)).status).toBe(200)
    })

    it('refuses an expired key: 401', async () => {
      const key = await server.createKey({ name: 'expired', expiresAt: new Date(Date.now() - 60_000).toISOString() })
      const body = expectAnthropicError(await withKey(key.apiKey), 401, 'authentication_error')
      expect(body.error.message).toMatch(/expired/i)
      expect(upstream.requests).toHaveLength(0)
    })

    it('refuses a key that expires after it was cached', async () => {
      const key = await server.createKey({ name: 'expiring', expiresAt: new Date(Date.now() + 60_000).toISOString() })
      expect((await withKey(key.apiKey)).status).toBe(200)
      const past = new Date(Date.now() - 1000).toISOString()
      expect((await server.admin('PUT', `/api/admin/api-keys/${key.id}`, { expiresAt: past })).status).toBe(200)
      expectAnthropicError(await withKey(key.apiKey), 401, 'authentication_error')
    })

    it('refuses a key right after it is deleted', async () => {
      const key = await server.createKey({ name: 'to-delete' })
      expect((await withKey(key.apiKey)).status).toBe(200)
      expect((await server.admin('DELETE', `/api/admin/api-keys/${key.id}`)).status).toBe(200)
      expectAnthropicError(await withKey(key.apiKey), 401, 'authentication_error')
      expect(upstream.requests).toHaveLength(1)
    })
  })

  describe('bad request bodies', () => {
    it.each([
      ['malformed JSON', '{"model": "claude-sonnet-4-5", "messages": ['],
      ['a JSON array', '[{"model":"claude-sonnet-4-5"}]'],
      ['a JSON string', '"hello"'],
      ['JSON null', 'null'],
      ['an empty body', ''],
    ])('refuses %s: 400 invalid_request_error', async (_, body) => {
      expectAnthropicError(await withKey(apiKey, body), 400, 'invalid_request_error')
      expect(upstream.requests).toHaveLength(0)
    })
  })

  describe('accounts and upstream reachability', () => {
    it('answers 503 with a clear message when no account is active', async () => {
      expect((await server.admin('PUT', `/api/admin/claude-accounts/${accountId}`, { isActive: false })).status).toBe(200)
      try {
        const body = expectAnthropicError(await withKey(apiKey), 503, 'overloaded_error')
        expect(body.error.message).toMatch(/no active claude account/i)
        expect(upstream.requests).toHaveLength(0)
      }
      finally {
        expect((await server.admin('PUT', `/api/admin/claude-accounts/${accountId}`, { isActive: true })).status).toBe(200)
      }
      expect((await withKey(apiKey)).status).toBe(200)
    })

    it('answers 502 api_error when the upstream does not accept connections', async () => {
      const closed = `http://127.0.0.1:${await freePort()}`
      expect((await server.admin('PUT', `/api/admin/claude-accounts/${accountId}`, { apiUrl: closed })).status).toBe(200)
      try {
        expectAnthropicError(await withKey(apiKey), 502, 'api_error')
        expectAnthropicError(await withKey(apiKey, messageBody({ stream: true })), 502, 'api_error')
      }
      finally {
        expect((await server.admin('PUT', `/api/admin/claude-accounts/${accountId}`, { apiUrl: upstream.url })).status).toBe(200)
      }
    })
  })

  describe('upstream error answers', () => {
    it.each([false, true])('passes an upstream 500 through with its body unchanged (stream: %s)', async (stream) => {
      upstream.behaviour.mode = 'error500'
      const res = await withKey(apiKey, messageBody({ stream }))
      expect(res.status).toBe(500)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expect(res.body).toBe('{"type":"error","error":{"type":"api_error","message":"Internal server error"}}')
      expect(res.headers['request-id']).toBe('req_fake_123')
    })

    it('passes an upstream 429 through with retry-after', async () => {
      upstream.behaviour.mode = 'error429'
      const res = await withKey(apiKey)
      expect(res.status).toBe(429)
      expect(res.headers['retry-after']).toBe('17')
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expect(res.body).toBe('{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}')
    })

    it('ends a stream cut by the upstream with the bytes so far and an SSE error event', async () => {
      upstream.behaviour.mode = 'reset'
      upstream.behaviour.resetAfter = 4
      // A pause between events lets each write leave the fake before it destroys the socket.
      upstream.behaviour.delayMs = 20
      const res = await withKey(apiKey, messageBody({ stream: true }))
      expect(res.status).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
      const sent = sseEvents(upstream.behaviour).slice(0, 4).join('')
      expect(res.body.startsWith(sent)).toBe(true)
      const tail = res.body.slice(sent.length)
      const m = /^event: error\ndata: (.+)\n\n$/.exec(tail)
      expect(m, `unexpected tail: ${JSON.stringify(tail)}`).not.toBeNull()
      const data = JSON.parse(m![1]!) as AnthropicErrorBody
      expect(data).toEqual({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } })
      expect(data.error.type).toMatch(/^(api_error|overloaded_error)$/)
    })
  })

  describe('unknown routes and methods', () => {
    // STYLE.md: relay paths answer in the upstream's shape, never an HTML page or h3's own JSON.
    it.each([
      ['POST', '/api/v1/no-such-endpoint'],
      ['POST', '/claude/v1/no-such-endpoint'],
      ['GET', '/api/v1/messages'],
      ['GET', '/claude/v1/messages'],
    ])('%s %s answers a JSON error in Anthropic\'s shape', async (method, path) => {
      const res = await rawRequest(`${server.url}${path}`, { method, headers: { 'x-api-key': apiKey } })
      expect([404, 405]).toContain(res.status)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expect(JSON.parse(res.body)).toEqual({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } })
      expect(upstream.requests).toHaveLength(0)
    })
  })

  describe('GET /api/v1/models', () => {
    it.each(['/api/v1/models', '/claude/v1/models'])('%s lists Claude models in Anthropic\'s shape', async (path) => {
      const res = await rawRequest(`${server.url}${path}`, { method: 'GET', headers: { 'x-api-key': apiKey } })
      expect(res.status).toBe(200)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      const body = JSON.parse(res.body) as { data: { type: string, id: string, display_name: string }[], has_more: boolean }
      expect(body.has_more).toBe(false)
      expect(body.data.length).toBeGreaterThan(0)
      for (const m of body.data) {
        expect(m.type).toBe('model')
        expect(m.id).toMatch(/^claude-/)
      }
      expect(body.data.some(m => /sonnet/.test(m.id))).toBe(true)
    })

    it('refuses without a key: 401', async () => {
      const res = await rawRequest(`${server.url}/api/v1/models`, { method: 'GET' })
      expectAnthropicError(res, 401, 'authentication_error')
    })
  })
})

describe('request size limit (REQUEST_MAX_SIZE_MB=0.01, a fresh server)', () => {
  const server = new TestServer({ REQUEST_MAX_SIZE_MB: '0.01' })
  let apiKey = ''

  beforeAll(async () => {
    await server.start()
    apiKey = (await server.createKey({ name: 'size-limit' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
  })

  // ~50 KB of valid JSON: five times the ~10 KB limit.
  const big = messageBody({ messages: [{ role: 'user', content: 'x'.repeat(50_000) }] })
  const headers = () => ({ 'x-api-key': apiKey, 'content-type': 'application/json' })

  it('refuses a chunked body once it passes the limit: 413 request_too_large', async () => {
    const res = await rawRequest(`${server.url}/api/v1/messages`, { headers: headers(), body: big, chunked: true })
    expectAnthropicError(res, 413, 'request_too_large')
    expect(upstream.requests).toHaveLength(0)
  })

  it('refuses a declared content-length over the limit: 413 request_too_large', async () => {
    const res = await rawRequest(`${server.url}/api/v1/messages`, { headers: headers(), body: big })
    expectAnthropicError(res, 413, 'request_too_large')
    expect(upstream.requests).toHaveLength(0)
  })

  it('answers 503 while the server has no account, and relays a body under the limit once it has one', async () => {
    const small = messageBody({ messages: [{ role: 'user', content: 'y'.repeat(5_000) }] })
    const none = await rawRequest(`${server.url}/api/v1/messages`, { headers: headers(), body: small })
    expect(expectAnthropicError(none, 503, 'overloaded_error').error.message).toMatch(/no active claude account/i)
    expect(upstream.requests).toHaveLength(0)

    await server.createConsoleAccount(upstream.url)
    const ok = await rawRequest(`${server.url}/api/v1/messages`, { headers: headers(), body: small })
    expect(ok.status).toBe(200)
    expect(upstream.last().body).toBe(small)
  })
})

describe('upstream timeout (PROXY_TIMEOUT=500)', () => {
  const server = new TestServer({ PROXY_TIMEOUT: '500' })
  let apiKey = ''

  beforeAll(async () => {
    await server.start()
    await server.createConsoleAccount(upstream.url)
    apiKey = (await server.createKey({ name: 'timeout' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
  })

  it('answers 504 when the upstream sends no headers in time, and drops the upstream request', async () => {
    upstream.behaviour.mode = 'hang'
    const started = Date.now()
    const res = await rawRequest(`${server.url}/api/v1/messages`, {
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
    })
    const took = Date.now() - started
    expectAnthropicError(res, 504, 'timeout_error')
    expect(took).toBeGreaterThanOrEqual(450)
    expect(took).toBeLessThan(5000)
    expect(upstream.requests).toHaveLength(1)
    expect(await upstream.waitForAbort(2000)).toBe(true)
  })
})
