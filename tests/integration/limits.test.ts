import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import Redis from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic, type UpstreamUsage } from '../fixtures/anthropic-upstream'
import { messageBody, pollUntil, rawRequest, type RawResponse } from '../helpers/client'
import { freePort, TestServer } from '../helpers/server'
import prices from '../../server/usage/model-prices.json'
import { ALIVE_MS } from '../../server/usage/lost'

// Admission (server/keys/admission.ts) runs after the key, the body, access rules and the
// account pick, and before anything is forwarded: every refusal here must leave the upstream
// untouched and count nothing.

const PRICED_MODEL = 'claude-sonnet-4-5-20250929'
const USAGE: UpstreamUsage = { input_tokens: 25, output_tokens: 17, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
const TOKENS_PER_REQUEST = USAGE.input_tokens + USAGE.output_tokens
const DAY_MS = 86_400_000

/** One request's cost in micro-USD from the shipped price table, computed here independently. */
function costMicros(model: string, u: UpstreamUsage): number {
  const p = (prices as unknown as Record<string, Record<string, number>>)[model]!
  return Math.round(1e6 * (u.input_tokens * p.input_cost_per_token! + u.output_tokens * p.output_cost_per_token!))
}
const REQUEST_COST = costMicros(PRICED_MODEL, USAGE)

interface AnthropicErrorBody { type: string, error: { type: string, message: string } }
interface Reply extends RawResponse { json: AnthropicErrorBody | null }

/** Asserts an Anthropic-shaped error with this status and type (and message); returns the message. */
function expectError(r: Reply, status: number, type: string, message?: RegExp): string {
  expect(r.status, r.body).toBe(status)
  expect(r.headers['content-type']).toMatch(/^application\/json/)
  expect(r.json).toEqual({ type: 'error', error: { type, message: expect.any(String) } })
  if (message) expect(r.json!.error.message).toMatch(message)
  return r.json!.error.message
}

/** The `retry-after` header as a number of seconds (fails when absent or not an integer). */
function retryAfter(r: Reply): number {
  const v = r.headers['retry-after']
  expect(v, 'retry-after header').toMatch(/^\d+$/)
  return Number(v)
}

/** Seconds from `at` to the next UTC midnight, and to the next Monday 00:00 UTC. */
function untilNextDay(at: number): number {
  const d = new Date(at)
  return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - at) / 1000
}
function untilNextWeek(at: number): number {
  const d = new Date(at)
  const sinceMonday = (d.getUTCDay() + 6) % 7
  return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - sinceMonday + 7) - at) / 1000
}

/** One Messages-API call over a fresh connection (exact headers, any user agent). */
async function send(server: TestServer, apiKey: string, fields: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await rawRequest(`${server.url}/api/v1/messages`, {
    headers: { 'x-api-key': apiKey, 'content-type': 'application/json', ...headers },
    body: messageBody(fields),
  })
  let json: AnthropicErrorBody | null = null
  try {
    json = JSON.parse(res.body) as AnthropicErrorBody
  }
  catch { /* an SSE stream */ }
  return { ...res, json }
}

/** Waits until the key has exactly `n` recorded requests (recording follows the response). */
async function recorded(server: TestServer, keyId: string, n: number): Promise<void> {
  const len = await pollUntil(() => server.redis.llen(`usage:recent:${keyId}`), v => v >= n, 5000)
  expect(len, `recorded requests of ${keyId}`).toBe(n)
}

/** A key's all-time counter `i` (packed "requests,input,output,c5m,c1h,cacheRead,costMicros,aborted"). */
async function totalCounter(server: TestServer, keyId: string, i: number): Promise<number> {
  const packed = await server.redis.hget('usage:total', `k:${keyId}`)
  return Number(packed?.split(',')[i] ?? 0)
}

interface KeyInfo {
  expiresAt: string | null
  activation: { days: number, activatedAt: string | null } | null
  limits: Record<string, number>
  state: {
    window: { startedAt: string, resetsAt: string, requests: number, tokens: number, cost: number } | null
    concurrency: { inUse: number, limit: number }
    weeklyCost: number
  }
}

async function keyInfo(server: TestServer, apiKey: string): Promise<KeyInfo> {
  const res = await fetch(`${server.url}/api/v1/key-info`, { headers: { 'x-api-key': apiKey } })
  expect(res.status).toBe(200)
  return await res.json() as KeyInfo
}

describe('API-key limits', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer()
  const call = (apiKey: string, fields?: Record<string, unknown>, headers?: Record<string, string>) => send(server, apiKey, fields, headers)

  beforeAll(async () => {
    await upstream.start()
    await server.start()
    await server.createConsoleAccount(upstream.url)
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })
  beforeEach(() => {
    upstream.reset()
    upstream.behaviour.usage = { ...USAGE }
    upstream.behaviour.model = PRICED_MODEL
  })
  // An upstream error in one test leaves the account cooling down: give every test a clean pool.
  beforeEach(() => server.resetAccountStates())

  describe('concurrency', () => {
    it('admits exactly concurrencyLimit of 20 parallel streams, refuses 17 with 429 + retry-after, then releases the leases', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-concurrency', concurrencyLimit: 3 })
      // Each admitted stream lasts ~2 s, long enough for all 20 to reach admission meanwhile.
      upstream.behaviour.delayMs = 100
      upstream.behaviour.deltas = 15
      const pending = Promise.all(Array.from({ length: 20 }, () => call(apiKey, { stream: true })))
      // While the three streams run, the key holds exactly three leases.
      expect(await pollUntil(() => server.redis.zcard(`lease:${id}`), n => n === 3, 5000)).toBe(3)
      const replies = await pending

      const ok = replies.filter(r => r.status === 200)
      const refused = replies.filter(r => r.status !== 200)
      expect(ok).toHaveLength(3)
      expect(refused).toHaveLength(17)
      for (const r of ok) expect(r.body).toContain('event: message_stop')
      for (const r of refused) {
        expectError(r, 429, 'rate_limit_error', /Concurrency limit reached: at most 3 requests/)
        expect(retryAfter(r)).toBeGreaterThanOrEqual(1)
      }
      expect(upstream.requests).toHaveLength(3)

      // Recording (after each stream ended) releases the leases; refusals took none.
      expect(await pollUntil(() => server.redis.zcard(`lease:${id}`), n => n === 0, 5000)).toBe(0)
      await recorded(server, id, 3)
      upstream.behaviour.delayMs = 0
      expect((await call(apiKey, { stream: true })).status).toBe(200)
      expect(upstream.requests).toHaveLength(4)
    })

    it('a request refused for concurrency uses no slot of the rate window', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-concurrency-window', concurrencyLimit: 1, rateLimitWindow: 1, rateLimitRequests: 3 })
      upstream.behaviour.delayMs = 100
      upstream.behaviour.deltas = 15
      const holding = call(apiKey, { stream: true })
      expect(await pollUntil(() => server.redis.zcard(`lease:${id}`), n => n === 1, 5000)).toBe(1)
      for (let i = 0; i < 4; i++) expectError(await call(apiKey), 429, 'rate_limit_error', /Concurrency limit/)
      expect(await server.redis.hget(`rate:${id}`, 'requests')).toBe('1')
      expect((await holding).status).toBe(200)
      await recorded(server, id, 1)
      upstream.behaviour.delayMs = 0
      expect((await call(apiKey)).status).toBe(200)
      expect((await call(apiKey)).status).toBe(200)
      expectError(await call(apiKey), 429, 'rate_limit_error', /3 requests per 1-minute window/)
    })

    it('releases the lease however an admitted request ends: upstream error, client abort', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-concurrency-release', concurrencyLimit: 1 })
      const leases = () => pollUntil(() => server.redis.zcard(`lease:${id}`), n => n === 0, 5000)

      upstream.behaviour.mode = 'error500'
      expect((await call(apiKey)).status).toBe(500)
      expect(await leases()).toBe(0)

      upstream.behaviour.mode = 'ok'
      upstream.behaviour.delayMs = 100
      upstream.behaviour.deltas = 30
      const ac = new AbortController()
      const res = await fetch(`${server.url}/api/v1/messages`, {
        method: 'POST', signal: ac.signal,
        headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
      })
      expect(res.status).toBe(200)
      expect(await server.redis.zcard(`lease:${id}`)).toBe(1)
      ac.abort()
      await res.arrayBuffer().catch(() => { /* aborted, as intended */ })
      expect(await upstream.waitForAbort(5000)).toBe(true)
      expect(await leases()).toBe(0)

      upstream.behaviour.delayMs = 0
      expect((await call(apiKey)).status).toBe(200)
      expect(upstream.requests).toHaveLength(3)
    })
  })

  describe('rate window', () => {
    it('allows rateLimitRequests per window, refuses the next with retry-after, counts no refusal, and restarts when the window expires', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-window-requests', rateLimitWindow: 1, rateLimitRequests: 5 })
      for (let i = 0; i < 5; i++) expect((await call(apiKey)).status).toBe(200)

      const denied = await call(apiKey)
      expectError(denied, 429, 'rate_limit_error', /5 requests per 1-minute window/)
      const wait = retryAfter(denied)
      expect(wait).toBeGreaterThanOrEqual(1)
      expect(wait).toBeLessThanOrEqual(60)
      const pttl = await server.redis.pttl(`rate:${id}`)
      expect(pttl).toBeGreaterThan(0)
      expect(pttl).toBeLessThanOrEqual(60_000)

      for (let i = 0; i < 3; i++) expect((await call(apiKey)).status).toBe(429)
      expect(await server.redis.hget(`rate:${id}`, 'requests')).toBe('5')
      expect(upstream.requests).toHaveLength(5)
      await recorded(server, id, 5)

      // Let the window run out (shortened), then a new window starts with this request as its first.
      await server.redis.pexpire(`rate:${id}`, 300)
      expect(await pollUntil(() => server.redis.exists(`rate:${id}`), n => n === 0, 5000)).toBe(0)
      expect((await call(apiKey)).status).toBe(200)
      expect(await server.redis.hget(`rate:${id}`, 'requests')).toBe('1')
      const fresh = await server.redis.pttl(`rate:${id}`)
      expect(fresh).toBeGreaterThan(50_000)
      expect(fresh).toBeLessThanOrEqual(60_000)
    })

    it('refuses once the window\'s tokens reach rateLimitTokens', async () => {
      const limit = TOKENS_PER_REQUEST - 1
      const { id, apiKey } = await server.createKey({ name: 'limit-window-tokens', rateLimitWindow: 1, rateLimitTokens: limit })
      expect((await call(apiKey, { stream: true })).status).toBe(200)
      await recorded(server, id, 1)
      expect(await server.redis.hget(`rate:${id}`, 'tokens')).toBe(String(TOKENS_PER_REQUEST))

      const denied = await call(apiKey)
      expectError(denied, 429, 'rate_limit_error', new RegExp(`${limit} tokens per 1-minute window`))
      expect(retryAfter(denied)).toBeLessThanOrEqual(60)
      expect(upstream.requests).toHaveLength(1)
    })

    it('refuses once the window\'s cost reaches rateLimitCost', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-window-cost', rateLimitWindow: 1, rateLimitCost: 0.0001 })
      expect((await call(apiKey)).status).toBe(200)
      await recorded(server, id, 1)
      expect(await server.redis.hget(`rate:${id}`, 'cost')).toBe(String(REQUEST_COST))
      expectError(await call(apiKey), 429, 'rate_limit_error', /\$0\.0001 per 1-minute window/)
      expect(upstream.requests).toHaveLength(1)
    })
  })

  describe('cost and token limits', () => {
    it('prices the test model (so the cost limits below have something to count)', () => {
      expect(REQUEST_COST).toBeGreaterThan(1)
    })

    it('totalCostLimit: the first request passes (nothing spent yet), then 429 naming the total cost limit', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-total-cost', totalCostLimit: 0.000001 })
      expect((await call(apiKey)).status).toBe(200)
      await recorded(server, id, 1)
      expect(await totalCounter(server, id, 6)).toBe(REQUEST_COST)
      expectError(await call(apiKey), 429, 'rate_limit_error', /Total cost limit of \$0\.000001 reached/)
      expectError(await call(apiKey, { stream: true }), 429, 'rate_limit_error', /Total cost limit/)
      expect(upstream.requests).toHaveLength(1)

      // As the message says: the admin raises the limit, and the key works again at once.
      expect((await server.admin('PUT', `/api/admin/api-keys/${id}`, { totalCostLimit: 1 })).status).toBe(200)
      expect((await call(apiKey)).status).toBe(200)
    })

    it('dailyCostLimit: 429 with retry-after = seconds to the next UTC midnight', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-daily-cost', dailyCostLimit: 0.000001 })
      expect((await call(apiKey)).status).toBe(200)
      await recorded(server, id, 1)
      const sentAt = Date.now()
      const denied = await call(apiKey)
      expectError(denied, 429, 'rate_limit_error', /Daily cost limit of \$0\.000001 reached/)
      expect(Math.abs(retryAfter(denied) - untilNextDay(sentAt))).toBeLessThanOrEqual(5)
      expect(upstream.requests).toHaveLength(1)
    })

    it('weeklyCostLimit: 429 with retry-after = seconds to next Monday 00:00 UTC', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-weekly-cost', weeklyCostLimit: 0.000001 })
      expect((await call(apiKey)).status).toBe(200)
      await recorded(server, id, 1)
      const sentAt = Date.now()
      const denied = await call(apiKey)
      expectError(denied, 429, 'rate_limit_error', /Weekly cost limit of \$0\.000001 reached/)
      expect(Math.abs(retryAfter(denied) - untilNextWeek(sentAt))).toBeLessThanOrEqual(5)
      expect(upstream.requests).toHaveLength(1)
    })

    it('totalCostLimit overshoot is bounded by the requests in flight: 5 parallel streams all pass, then every further request is refused', async () => {
      // One request costs more than the limit, but nothing is charged until a request ends.
      const { id, apiKey } = await server.createKey({ name: 'limit-overshoot', totalCostLimit: 0.0001 })
      expect(REQUEST_COST).toBeGreaterThan(100)
      upstream.behaviour.delayMs = 100
      upstream.behaviour.deltas = 15
      const replies = await Promise.all(Array.from({ length: 5 }, () => call(apiKey, { stream: true })))
      expect(replies.map(r => r.status)).toEqual([200, 200, 200, 200, 200])
      await recorded(server, id, 5)
      // Spent: over the limit, but by no more than the five requests that were in flight.
      expect(await totalCounter(server, id, 6)).toBe(5 * REQUEST_COST)

      upstream.behaviour.delayMs = 0
      for (let i = 0; i < 3; i++) expectError(await call(apiKey), 429, 'rate_limit_error', /Total cost limit/)
      expect(upstream.requests).toHaveLength(5)
    })

    it('tokenLimit: the first request passes, the next gets 429 naming the token limit', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-tokens', tokenLimit: 10 })
      expect((await call(apiKey)).status).toBe(200)
      await recorded(server, id, 1)
      expectError(await call(apiKey), 429, 'rate_limit_error', /Token limit of 10 tokens reached/)
      expect(upstream.requests).toHaveLength(1)
    })
  })

  describe('activation', () => {
    it('starts the validity at the first request and answers 401 once activationDays have passed', async () => {
      const { id, apiKey } = await server.createKey({ name: 'limit-activation', activationDays: 2 })
      const before = await keyInfo(server, apiKey)
      expect(before.activation).toEqual({ days: 2, activatedAt: null })
      expect(before.expiresAt).toBeNull()

      const sentAt = Date.now()
      expect((await call(apiKey)).status).toBe(200)
      const after = await keyInfo(server, apiKey)
      expect(after.activation?.days).toBe(2)
      const activatedAt = Date.parse(after.activation?.activatedAt ?? '')
      expect(activatedAt).toBeGreaterThanOrEqual(sentAt - 1000)
      expect(activatedAt).toBeLessThanOrEqual(Date.now())
      expect(Math.abs(Date.parse(after.expiresAt ?? '') - (activatedAt + 2 * DAY_MS))).toBeLessThan(1000)

      // Pretend the first use was three days ago.
      await server.redis.hset(`api_key:${id}`, 'activatedAtMs', String(Date.now() - 3 * DAY_MS))
      expectError(await call(apiKey), 401, 'authentication_error', /expired/)
      expect(upstream.requests).toHaveLength(1)
    })
  })

  describe('access rules (403, never forwarded)', () => {
    it('allowedModels is an allow-list of globs', async () => {
      const { apiKey } = await server.createKey({ name: 'access-allowed-models', allowedModels: ['claude-sonnet-*'] })
      expect((await call(apiKey, { model: 'claude-sonnet-4-5' })).status).toBe(200)
      expectError(await call(apiKey, { model: 'claude-opus-4-1' }), 403, 'permission_error', /claude-opus-4-1 is not allowed/)
      expect(upstream.requests.map(r => JSON.parse(r.body).model)).toEqual(['claude-sonnet-4-5'])
    })

    it('blockedModels refuses matching models only', async () => {
      const { apiKey } = await server.createKey({ name: 'access-blocked-models', blockedModels: ['*opus*'] })
      expectError(await call(apiKey, { model: 'claude-opus-4-1' }), 403, 'permission_error', /claude-opus-4-1 is blocked/)
      expect((await call(apiKey, { model: 'claude-sonnet-4-5' })).status).toBe(200)
      expect(upstream.requests.map(r => JSON.parse(r.body).model)).toEqual(['claude-sonnet-4-5'])
    })

    it('permissions: gemini refuses the Claude endpoint', async () => {
      const { apiKey } = await server.createKey({ name: 'access-gemini-only', permissions: 'gemini' })
      expectError(await call(apiKey), 403, 'permission_error', /only be used for gemini/)
      expect(upstream.requests).toHaveLength(0)
    })

    it('allowedClients recognises Claude Code by its user agent and refuses other clients', async () => {
      const { apiKey } = await server.createKey({ name: 'access-clients', allowedClients: ['claude_code'] })
      expect((await call(apiKey, {}, { 'user-agent': 'claude-cli/1.0.119 (external, cli)' })).status).toBe(200)
      expectError(await call(apiKey, {}, { 'user-agent': 'curl/8.5' }), 403, 'permission_error', /restricted to these clients: claude_code/)
      expectError(await call(apiKey), 403, 'permission_error')
      expect(upstream.requests).toHaveLength(1)
      expect(upstream.requests[0]!.headers['user-agent']).toBe('claude-cli/1.0.119 (external, cli)')
    })
  })

  describe('dedicated account', () => {
    it('serves a bound key from its account (not the pool\'s best) and answers 503 when that account is disabled', async () => {
      const a = await server.createConsoleAccount(upstream.url, { name: 'pool-best', apiKey: 'sk-ant-api03-account-A', priority: 1 })
      const b = await server.createConsoleAccount(upstream.url, { name: 'dedicated', apiKey: 'sk-ant-api03-account-B', priority: 900 })
      const off = await server.createConsoleAccount(upstream.url, { name: 'disabled', apiKey: 'sk-ant-api03-account-C', priority: 1, isActive: false })
      try {
        const bound = await server.createKey({ name: 'bound-to-b', claudeAccountId: b.id })
        const free = await server.createKey({ name: 'unbound' })
        const orphan = await server.createKey({ name: 'bound-to-disabled', claudeAccountId: off.id })

        expect((await call(bound.apiKey)).status).toBe(200)
        expect(upstream.last().headers['x-api-key']).toBe('sk-ant-api03-account-B')
        expect((await call(free.apiKey)).status).toBe(200)
        expect(upstream.last().headers['x-api-key']).toBe('sk-ant-api03-account-A')
        expect((await call(bound.apiKey, { stream: true })).status).toBe(200)
        expect(upstream.last().headers['x-api-key']).toBe('sk-ant-api03-account-B')

        expectError(await call(orphan.apiKey), 503, 'overloaded_error', /dedicated to this API key is not available/)
        expect(upstream.requests).toHaveLength(3)
      }
      finally {
        for (const acc of [a, b, off]) await server.admin('DELETE', `/api/admin/claude-accounts/${acc.id}`)
      }
    })
  })

  describe('key-info', () => {
    it('shows a limited key\'s limits and live state (window requests and reset, leases in use)', async () => {
      const { apiKey } = await server.createKey({
        name: 'limit-info', rateLimitWindow: 1, rateLimitRequests: 10, concurrencyLimit: 2, dailyCostLimit: 5, totalCostLimit: 50,
      })
      const idle = await keyInfo(server, apiKey)
      expect(idle.limits).toMatchObject({ rateLimitWindow: 1, rateLimitRequests: 10, concurrencyLimit: 2, dailyCostLimit: 5, totalCostLimit: 50, tokenLimit: 0 })
      expect(idle.state.window).toBeNull()
      expect(idle.state.concurrency).toEqual({ inUse: 0, limit: 2 })

      const firstAt = Date.now()
      expect((await call(apiKey)).status).toBe(200)
      // A second request still streaming while key-info is read.
      upstream.behaviour.delayMs = 100
      upstream.behaviour.deltas = 20
      const streaming = call(apiKey, { stream: true })
      const busy = await pollUntil(() => keyInfo(server, apiKey), i => i.state.concurrency.inUse === 1, 5000)
      expect(busy.state.concurrency).toEqual({ inUse: 1, limit: 2 })
      expect(busy.state.window?.requests).toBe(2)
      const started = Date.parse(busy.state.window!.startedAt)
      expect(started).toBeGreaterThanOrEqual(firstAt - 1000)
      expect(Date.parse(busy.state.window!.resetsAt) - started).toBe(60_000)

      expect((await streaming).status).toBe(200)
      const done = await pollUntil(() => keyInfo(server, apiKey), i => i.state.concurrency.inUse === 0, 5000)
      expect(done.state.concurrency.inUse).toBe(0)
      expect(done.state.window?.tokens).toBe(2 * TOKENS_PER_REQUEST)
    })
  })
})

const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    return true
  }
  catch {
    return false
  }
})()

/** Counters of one Redis server: commands executed (scripted ones included) and socket reads. */
interface RedisStats { commands: number, reads: number }

function parseStats(info: string): RedisStats {
  let commands = 0
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) commands += Number(m[1])
  const reads = Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1])
  return { commands, reads }
}

// A Redis of its own, so every command it counts comes from this server or from the test.
describe.skipIf(!hasRedisServer)('Redis budget per relayed request (private redis-server)', () => {
  const upstream = new FakeAnthropic()
  let redisProcess: ChildProcess
  let server: TestServer
  let probe: Redis

  beforeAll(async () => {
    await upstream.start()
    const port = await freePort()
    redisProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    await pollUntil(async () => {
      const r = spawn('redis-cli', ['-p', String(port), 'ping'])
      return new Promise<boolean>(done => r.once('exit', code => done(code === 0)))
    }, ok => ok, 5000)
    const url = `redis://127.0.0.1:${port}`
    probe = new Redis(url)
    // A long key cache keeps the measured requests free of periodic re-lookups (amortised anyway).
    server = new TestServer({ REDIS_URL: url, API_KEY_CACHE_SECONDS: '600' }, { redisUrl: url })
    await server.start()
    await server.createConsoleAccount(upstream.url)
  })
  afterAll(async () => {
    await server?.stop()
    probe?.disconnect()
    redisProcess?.kill('SIGKILL')
    await upstream.stop()
  })

  /**
   * Average Redis commands (scripted ones included) and socket reads (≈ round trips) per request
   * over `n` sequential streamed requests of a warmed-up key, minus the test's own commands.
   */
  async function measure(keyId: string, apiKey: string, n: number): Promise<RedisStats & { sent: number }> {
    for (let i = 0; i < 2; i++) expect((await send(server, apiKey, { stream: true })).status).toBe(200)
    await recorded(server, keyId, 2)
    let own = 0
    const len = () => {
      own++
      return server.redis.llen(`usage:recent:${keyId}`)
    }
    // The instance's heartbeat (alive key renewed, dead instances reaped: every 5 s) must not fall
    // inside the measurement: start just after one, and measure again if the next one came before
    // the end (the alive key's TTL shows it was renewed), as on a slow machine.
    const [instance] = await server.redis.smembers('instances')
    const ttl = () => server.redis.pttl(`instance:${instance}`)
    for (let attempt = 1; ; attempt++) {
      const ttlBefore = await pollUntil(ttl, t => t > ALIVE_MS - 500, 6000)
      const startedAt = Date.now()
      own = 0
      const before = parseStats(await probe.info('all'))
      for (let i = 1; i <= n; i++) {
        expect((await send(server, apiKey, { stream: true })).status).toBe(200)
        const want = 2 + i + (attempt - 1) * n
        expect(await pollUntil(len, v => v >= want, 5000)).toBe(want)
      }
      const after = parseStats(await probe.info('all'))
      const renewed = await ttl() > ttlBefore - (Date.now() - startedAt) + 250
      if (renewed && attempt < 4) continue
      // commandstats counts the first INFO (not the second); reads count the second (not the first).
      return { commands: (after.commands - before.commands - own - 1) / n, reads: (after.reads - before.reads - own - 1) / n, sent: 2 + attempt * n }
    }
  }

  it('a key with every limit on costs at most 30 Redis commands per request, and more than a key without limits', async () => {
    const limited = await server.createKey({
      name: 'budget-limited', rateLimitWindow: 60, rateLimitRequests: 1000, rateLimitTokens: 1_000_000, rateLimitCost: 100,
      concurrencyLimit: 10, dailyCostLimit: 100, weeklyCostLimit: 100, totalCostLimit: 100, tokenLimit: 1_000_000, activationDays: 30,
    })
    const plain = await server.createKey({ name: 'budget-unlimited' })
    upstream.behaviour.model = PRICED_MODEL

    const withLimits = await measure(limited.id, limited.apiKey, 10)
    const without = await measure(plain.id, plain.apiKey, 10)
    console.log(`Redis per relayed request — every limit on: ${withLimits.commands} commands, ${withLimits.reads} round trips; no limits: ${without.commands} commands, ${without.reads} round trips`)

    // The limited key really was admitted against its limits (window counted, cost recorded).
    expect(await server.redis.hget(`rate:${limited.id}`, 'requests')).toBe(String(withLimits.sent))
    expect(await totalCounter(server, limited.id, 6)).toBe(withLimits.sent * REQUEST_COST)
    expect(withLimits.commands).toBeLessThanOrEqual(30)
    expect(withLimits.reads).toBeLessThanOrEqual(3)
    expect(without.commands).toBeLessThan(withLimits.commands)
    // Without limits: the record, plus the request's in-flight entry (one HSET, not awaited: a key
    // with limits writes it inside its admission call), so no more round trips than with limits.
    expect(without.reads).toBeLessThanOrEqual(2)
    expect(without.reads).toBeLessThanOrEqual(withLimits.reads)
  })
})
