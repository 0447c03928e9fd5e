import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody, pollUntil } from '../helpers/client'
import { TestServer } from '../helpers/server'

// Issue 17 §4: a sticky conversation with a large cached prefix whose account answers 429 with a
// reset a few seconds away waits for it (bounded) instead of rebuilding its cache on another
// account; with the reset further away it moves. The choice is in the request's log line.

describe('cache-aware failover', () => {
  const one = new FakeAnthropic()
  const two = new FakeAnthropic()
  let server: TestServer
  let apiKey = ''
  let keyId = ''

  beforeAll(async () => {
    await Promise.all([one.start(), two.start()])
    server = await new TestServer({ STICKY_SESSION_TTL_SECONDS: '3600', CACHE_WAIT_MAX_SECONDS: '5', CACHE_WAIT_MIN_TOKENS: '10000', LOG_LEVEL: 'info' }).start()
    for (const u of [one, two]) {
      u.behaviour = { ...u.behaviour, usage: { input_tokens: 12, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 30_000 } }
      await server.createConsoleAccount(u.url, { priority: 10 })
    }
    ;({ apiKey, id: keyId } = await server.createKey({ name: 'long conversation' }))
  })
  afterAll(async () => {
    await server?.stop()
    await Promise.all([one.stop(), two.stop()])
  })

  const send = async (session: string) => {
    const t0 = Date.now()
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: messageBody({ metadata: { user_id: `user_abc_account__session_${session}` } }),
    })
    await res.text()
    return { status: res.status, ms: Date.now() - t0, id: res.headers.get('x-request-id')! }
  }
  const logLine = (reqId: string) => pollUntil(
    async () => server.output.split('\n').filter(l => l.includes('"msg":"request"')).map(l => JSON.parse(l) as Record<string, unknown>).find(l => l.reqId === reqId),
    l => !!l, 5000)

  /** Start a conversation; returns the upstream that served it and the other one. */
  async function converse(session: string) {
    const first = await send(session)
    expect(first.status).toBe(200)
    // The ledger must hold the conversation's cached prefix before its account is limited.
    await pollUntil(() => server.redis.hlen(`usage:sessions:${keyId}`), n => n > 0, 3000)
    const home = one.requests.some(r => r.body.includes(session)) ? one : two
    return { home, away: home === one ? two : one }
  }

  /** The conversation's account answers 429 once, its limit lifting `resetInS` seconds later. */
  function limitOnce(u: FakeAnthropic, resetInS: number) {
    const reset = Math.ceil(Date.now() / 1000) + resetInS
    u.behaviour = {
      ...u.behaviour, mode: 'error', headers: { 'anthropic-ratelimit-unified-reset': String(reset) },
      error: { status: 429, type: 'rate_limit_error', message: 'Rate limited.' },
    }
    const before = u.requests.length
    void pollUntil(async () => u.requests.length, n => n > before, 5000).then(() => {
      u.behaviour = { ...u.behaviour, mode: 'ok', headers: undefined }
    })
  }

  it('waits for a limit that lifts within CACHE_WAIT_MAX_SECONDS, and the conversation stays on its account', async () => {
    const { home, away } = await converse('wait-case')
    const awayBefore = away.requests.length
    limitOnce(home, 2)
    const r = await send('wait-case')
    expect(r.status).toBe(200)
    expect(r.ms).toBeGreaterThanOrEqual(900)
    expect(away.requests.length).toBe(awayBefore)
    expect(home.requests.filter(q => q.body.includes('wait-case'))).toHaveLength(3)
    expect(await logLine(r.id)).toMatchObject({ cacheChoice: 'wait', status: 200 })
  })

  it('moves when the limit lifts later than that', async () => {
    const { home, away } = await converse('move-case')
    limitOnce(home, 30)
    const r = await send('move-case')
    expect(r.status).toBe(200)
    expect(r.ms).toBeLessThan(2000)
    expect(away.requests.some(q => q.body.includes('move-case'))).toBe(true)
    expect(await logLine(r.id)).toMatchObject({ cacheChoice: 'move', status: 200 })
  })
})
