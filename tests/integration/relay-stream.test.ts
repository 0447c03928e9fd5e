import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic, jsonMessage, sseEvents } from '../fixtures/anthropic-upstream'
import { messageBody, pollUntil, rawRequest } from '../helpers/client'
import { TestServer } from '../helpers/server'

const UPSTREAM_KEY = 'sk-ant-api03-test-upstream-key'

describe('relay: streaming and non-streaming pass-through', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer()
  let apiKey = ''
  let accountId = ''

  beforeAll(async () => {
    await upstream.start()
    await server.start()
    accountId = (await server.createConsoleAccount(upstream.url, { apiKey: UPSTREAM_KEY })).id
    apiKey = (await server.createKey({ name: 'relay-stream' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })
  beforeEach(() => upstream.reset())

  const post = (path: string, body: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(`${server.url}${path}`, {
      method: 'POST', body, signal,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json', ...headers },
    })

  describe('streaming', () => {
    it('passes the upstream SSE bytes through unchanged, with streaming headers', async () => {
      upstream.behaviour.deltas = 5
      const res = await post('/api/v1/messages', messageBody({ stream: true }))
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
      expect(res.headers.get('cache-control')).toBe('no-cache, no-transform')
      expect(res.headers.get('x-accel-buffering')).toBe('no')
      expect(Buffer.from(await res.arrayBuffer()).toString('utf8')).toBe(sseEvents(upstream.behaviour).join(''))
      expect(upstream.last().completed).toBe(true)
    })

    it('delivers events as they arrive, not after the upstream finished', async () => {
      upstream.behaviour.delayMs = 60
      upstream.behaviour.deltas = 8
      const res = await post('/api/v1/messages', messageBody({ stream: true }))
      expect(res.status).toBe(200)
      const reader = res.body!.getReader()
      const arrivals: number[] = []
      const chunks: Uint8Array[] = []
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        arrivals.push(performance.now())
        chunks.push(value)
      }
      // 14 events 60 ms apart take ~840 ms upstream; a buffering relay would deliver them in one burst.
      expect(arrivals.length).toBeGreaterThan(1)
      expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(5 * upstream.behaviour.delayMs)
      expect(Buffer.concat(chunks).toString('utf8')).toBe(sseEvents(upstream.behaviour).join(''))
    })

    it('sends the stream\'s headers at once when the upstream\'s first event is slow to come', async () => {
      // The relay holds a stream's headers back to write them with the first event (one write
      // instead of two), but only within the tick they came in: a slow first token must not hold them.
      upstream.behaviour.firstEventDelayMs = 1500
      const t0 = performance.now()
      const res = await post('/api/v1/messages', messageBody({ stream: true }))
      const headersAfter = performance.now() - t0
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
      expect(headersAfter).toBeLessThan(1000)
      const text = Buffer.from(await res.arrayBuffer()).toString('utf8')
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1400)
      expect(text).toBe(sseEvents(upstream.behaviour).join(''))
    })

    it('aborts the upstream request when the client goes away', async () => {
      upstream.behaviour.delayMs = 100
      upstream.behaviour.deltas = 30
      const ac = new AbortController()
      const res = await post('/api/v1/messages', messageBody({ stream: true }), {}, ac.signal)
      expect(res.status).toBe(200)
      const reader = res.body!.getReader()
      const first = await reader.read()
      expect(first.done).toBe(false)
      expect(Buffer.from(first.value!).toString('utf8')).toContain('event: message_start')
      ac.abort()
      await reader.read().catch(() => { /* aborted, as intended */ })
      // The full stream would take ~3.5 s; the abort must reach the upstream well before that.
      expect(await upstream.waitForAbort(1500)).toBe(true)
      expect(upstream.requests).toHaveLength(1)
      expect(upstream.last().aborted).toBe(true)
      expect(upstream.last().completed).toBe(false)
    })

    it('aborts the upstream request when the client goes away before upstream answered', async () => {
      upstream.behaviour.mode = 'hang'
      const ac = new AbortController()
      const pending = post('/api/v1/messages', messageBody({ stream: true }), {}, ac.signal).catch((err: Error) => err)
      const seen = await pollUntil(async () => upstream.requests.length, n => n === 1, 5000)
      expect(seen).toBe(1)
      ac.abort()
      expect(await pending).toBeInstanceOf(Error)
      expect(await upstream.waitForAbort(1500)).toBe(true)
      expect(upstream.last().completed).toBe(false)
    })
  })

  describe('non-streaming', () => {
    it('passes the upstream JSON body through byte for byte', async () => {
      const res = await post('/api/v1/messages', messageBody())
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      expect(res.headers.get('x-accel-buffering')).toBeNull()
      expect(Buffer.from(await res.arrayBuffer()).toString('utf8')).toBe(jsonMessage(upstream.behaviour))
      // The fake upstream answers without content-length (chunked); Node adds none either.
      expect(res.headers.get('content-length')).toBeNull()
    })

    it('keeps upstream\'s content-length for an identity body', async () => {
      const text = jsonMessage(upstream.behaviour)
      upstream.behaviour.headers = { 'content-length': String(Buffer.byteLength(text)) }
      const res = await post('/api/v1/messages', messageBody())
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)))
      expect(await res.text()).toBe(text)
    })
  })

  describe('paths', () => {
    it('forwards to /v1/messages without a query when the client sent none', async () => {
      const res = await post('/api/v1/messages', messageBody())
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(upstream.last().method).toBe('POST')
      expect(upstream.last().path).toBe('/v1/messages')
    })

    it('forwards ?beta=true as ?beta=true', async () => {
      const res = await post('/api/v1/messages?beta=true', messageBody({ stream: true }))
      expect(res.status).toBe(200)
      expect(await res.text()).toBe(sseEvents(upstream.behaviour).join(''))
      expect(upstream.last().path).toBe('/v1/messages?beta=true')
    })

    it('answers the CRS alias POST /claude/v1/messages the same way', async () => {
      const streamed = await post('/claude/v1/messages', messageBody({ stream: true }))
      expect(streamed.status).toBe(200)
      expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/)
      expect(streamed.headers.get('cache-control')).toBe('no-cache, no-transform')
      expect(await streamed.text()).toBe(sseEvents(upstream.behaviour).join(''))
      expect(upstream.last().path).toBe('/v1/messages')

      const beta = await post('/claude/v1/messages?beta=true', messageBody())
      expect(beta.status).toBe(200)
      expect(await beta.text()).toBe(jsonMessage(upstream.behaviour))
      expect(upstream.last().path).toBe('/v1/messages?beta=true')
    })
  })

  describe('what the upstream receives', () => {
    // Unusual spacing, key order and non-ASCII text: any re-serialisation would show.
    const body = '{ "stream":false,"model" : "claude-sonnet-4-5",\n  "max_tokens": 7, "messages": [{"role":"user","content":"héllo 🌍 \\u00e9"}] }\n'
    const clientHeaders = () => ({
      'x-api-key': apiKey,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'prompt-caching-2024-07-31,oauth-2025-04-20',
      'user-agent': 'claude-cli/1.0.119 (external, cli)',
      'x-app': 'cli',
      'x-stainless-lang': 'js',
      'x-secret-header': 's3cret',
      'cookie': 'session=abc123; other=1',
    })

    it('sends the account key as x-api-key, allow-listed headers unchanged, nothing else', async () => {
      const res = await rawRequest(`${server.url}/api/v1/messages`, { headers: clientHeaders(), body })
      expect(res.status).toBe(200)
      const got = upstream.last()
      expect(got.path).toBe('/v1/messages')
      expect(got.headers['x-api-key']).toBe(UPSTREAM_KEY)
      expect(got.headers.authorization).toBeUndefined()
      expect(got.headers['anthropic-version']).toBe('2023-06-01')
      expect(got.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31,oauth-2025-04-20')
      expect(got.headers['user-agent']).toBe('claude-cli/1.0.119 (external, cli)')
      expect(got.headers['x-app']).toBe('cli')
      expect(got.headers['x-stainless-lang']).toBe('js')
      expect(got.headers['x-secret-header']).toBeUndefined()
      expect(got.headers.cookie).toBeUndefined()
    })

    it('sends only allow-listed and transport headers', async () => {
      const res = await rawRequest(`${server.url}/api/v1/messages`, {
        headers: { ...clientHeaders(), 'accept-encoding': 'gzip, br', 'x-forwarded-for': '10.0.0.1', 'origin': 'https://evil.example' }, body,
      })
      expect(res.status).toBe(200)
      const allowed = new Set(['host', 'connection', 'content-length', 'content-type', 'accept', 'accept-encoding', 'x-api-key', 'anthropic-version', 'anthropic-beta', 'user-agent', 'x-app'])
      const unexpected = Object.keys(upstream.last().headers).filter(h => !allowed.has(h) && !h.startsWith('x-stainless-'))
      expect(unexpected).toEqual([])
      // The relay asks for plain bytes whatever the client accepts (its usage tap reads them).
      expect(upstream.last().headers['accept-encoding']).toBe('identity')
    })

    it('never forwards the client\'s cr_ key, in any header or the body', async () => {
      for (const auth of [{ 'x-api-key': apiKey }, { authorization: `Bearer ${apiKey}` }] as Record<string, string>[]) {
        upstream.reset()
        const { 'x-api-key': _drop, ...rest } = clientHeaders()
        const res = await rawRequest(`${server.url}/api/v1/messages`, { headers: { ...rest, ...auth }, body })
        expect(res.status).toBe(200)
        const got = upstream.last()
        const values = Object.values(got.headers).flat().join('\n')
        expect(values).not.toContain(apiKey)
        expect(values).not.toContain('cr_')
        expect(got.body).not.toContain(apiKey)
        expect(got.headers['x-api-key']).toBe(UPSTREAM_KEY)
      }
    })

    it('does not forward a cr_ key given as ?key= in the URL', async () => {
      const res = await rawRequest(`${server.url}/api/v1/messages?beta=true&key=${apiKey}`, {
        headers: { 'content-type': 'application/json' }, body: messageBody(),
      })
      expect(res.status).toBe(200)
      expect(upstream.last().path).toBe('/v1/messages?beta=true')
      expect(Object.values(upstream.last().headers).flat().join('\n')).not.toContain(apiKey)
    })

    it('forwards the request body byte for byte', async () => {
      const res = await rawRequest(`${server.url}/api/v1/messages`, { headers: clientHeaders(), body })
      expect(res.status).toBe(200)
      expect(upstream.last().body).toBe(body)
      expect(upstream.last().headers['content-length']).toBe(String(Buffer.byteLength(body)))
    })

    it('defaults anthropic-version to 2023-06-01 when the client sent none', async () => {
      const res = await rawRequest(`${server.url}/api/v1/messages`, {
        headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody(),
      })
      expect(res.status).toBe(200)
      expect(upstream.last().headers['anthropic-version']).toBe('2023-06-01')
    })

    it('keeps a client\'s own anthropic-version', async () => {
      const res = await rawRequest(`${server.url}/api/v1/messages`, {
        headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'anthropic-version': '2024-01-01' }, body: messageBody(),
      })
      expect(res.status).toBe(200)
      expect(upstream.last().headers['anthropic-version']).toBe('2024-01-01')
    })

    it('sends a key that does not start with sk-ant- as Authorization: Bearer', async () => {
      const token = 'oauth-access-token-for-upstream-0123456789'
      expect((await server.admin('PUT', `/api/admin/claude-accounts/${accountId}`, { apiKey: token })).status).toBe(200)
      try {
        const res = await rawRequest(`${server.url}/api/v1/messages`, { headers: clientHeaders(), body })
        expect(res.status).toBe(200)
        const got = upstream.last()
        expect(got.headers.authorization).toBe(`Bearer ${token}`)
        expect(got.headers['x-api-key']).toBeUndefined()
      }
      finally {
        expect((await server.admin('PUT', `/api/admin/claude-accounts/${accountId}`, { apiKey: UPSTREAM_KEY })).status).toBe(200)
      }
    })
  })

  describe('response headers', () => {
    it.each([false, true])('passes request-id and drops upstream-internal headers (stream: %s)', async (stream) => {
      const res = await post('/api/v1/messages', messageBody({ stream }))
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(res.headers.get('request-id')).toBe('req_fake_123')
      expect(res.headers.get('anthropic-organization-id')).toBeNull()
      expect(res.headers.get('x-internal-upstream')).toBeNull()
    })

    it('passes retry hints but not cookies or rate-limit internals from upstream', async () => {
      upstream.behaviour.headers = { 'set-cookie': 'upstream_session=1; Path=/', 'x-should-retry': 'false', 'x-envoy-upstream-service-time': '12' }
      const res = await post('/api/v1/messages', messageBody())
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(res.headers.get('x-should-retry')).toBe('false')
      expect(res.headers.get('set-cookie')).toBeNull()
      expect(res.headers.get('x-envoy-upstream-service-time')).toBeNull()
    })
  })

  describe('count_tokens', () => {
    it.each(['/api/v1/messages/count_tokens', '/claude/v1/messages/count_tokens'])('%s is forwarded and its answer passed through', async (path) => {
      upstream.behaviour.usage.input_tokens = 4321
      const body = JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count me' }] })
      const res = await post(path, body)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await res.text()).toBe('{"input_tokens":4321}')
      const got = upstream.last()
      expect(got.path).toBe('/v1/messages/count_tokens')
      expect(got.body).toBe(body)
      expect(got.headers['x-api-key']).toBe(UPSTREAM_KEY)
    })

    it('forwards count_tokens?beta=true as ?beta=true', async () => {
      const res = await post('/api/v1/messages/count_tokens?beta=true', messageBody())
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(upstream.last().path).toBe('/v1/messages/count_tokens?beta=true')
    })

    it('is not counted as a request in usage', async () => {
      const key = await server.createKey({ name: 'count-tokens-only' })
      const headers = { 'x-api-key': key.apiKey }
      for (let i = 0; i < 3; i++) {
        const res = await post('/api/v1/messages/count_tokens', messageBody(), headers)
        expect(res.status).toBe(200)
        await res.arrayBuffer()
      }
      // One real message afterwards: once it is recorded, anything count_tokens wrote would be too.
      const msg = await post('/api/v1/messages', messageBody(), headers)
      expect(msg.status).toBe(200)
      await msg.arrayBuffer()
      type Usage = { total: { requests: number, inputTokens: number } }
      const usage = await pollUntil(
        async () => (await (await fetch(`${server.url}/api/v1/usage`, { headers })).json()) as Usage,
        u => u.total.requests >= 1,
      )
      expect(usage.total.requests).toBe(1)
      expect(usage.total.inputTokens).toBe(upstream.behaviour.usage.input_tokens)
    })
  })
})
