import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic, type UpstreamUsage } from '../fixtures/anthropic-upstream'
import { messageBody, pollUntil } from '../helpers/client'
import { TestServer } from '../helpers/server'
import prices from '../../server/usage/model-prices.json'

interface Totals {
  requests: number
  inputTokens: number
  outputTokens: number
  cacheCreate5m: number
  cacheCreate1h: number
  cacheRead: number
  aborted: number
  costMicros: number
  cost: number
}
interface UsageView {
  keyId: string
  total: Totals & { models: Record<string, Totals> }
  daily: (Totals & { date: string, models: Record<string, Totals> })[]
}
interface KeyInfo {
  id: string
  isActive: boolean
  lastUsedAt: string | null
  usage: { total: Totals, today: UsageView['daily'][number] }
}

type Counts = Omit<Totals, 'aborted' | 'costMicros' | 'cost'>

/** The price table's cost of one request, in micro-USD, computed here independently. */
function costOf(model: string, u: UpstreamUsage): number {
  const p = (prices as unknown as Record<string, Record<string, number>>)[model]!
  const c = totalsOf(u)
  return Math.round(1e6 * (c.inputTokens * p.input_cost_per_token! + c.outputTokens * p.output_cost_per_token!
    + c.cacheCreate5m * p.cache_creation_input_token_cost! + c.cacheCreate1h * p.cache_creation_input_token_cost_above_1hr!
    + c.cacheRead * p.cache_read_input_token_cost!))
}

/** The counters a request with upstream `usage` should add (aborted apart). */
function totalsOf(u: UpstreamUsage, requests = 1): Counts {
  return {
    requests,
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheCreate5m: u.cache_creation?.ephemeral_5m_input_tokens ?? u.cache_creation_input_tokens ?? 0,
    cacheCreate1h: u.cache_creation?.ephemeral_1h_input_tokens ?? 0,
    cacheRead: u.cache_read_input_tokens ?? 0,
  }
}

const sum = (a: Counts, b: Counts): Counts => ({
  requests: a.requests + b.requests,
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheCreate5m: a.cacheCreate5m + b.cacheCreate5m,
  cacheCreate1h: a.cacheCreate1h + b.cacheCreate1h,
  cacheRead: a.cacheRead + b.cacheRead,
})

const today = () => new Date().toISOString().slice(0, 10)

const STREAM_USAGE: UpstreamUsage = {
  input_tokens: 1234, output_tokens: 567, cache_creation_input_tokens: 300, cache_read_input_tokens: 89,
  cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 },
}
const JSON_USAGE: UpstreamUsage = {
  input_tokens: 41, output_tokens: 13, cache_creation_input_tokens: 7, cache_read_input_tokens: 3,
  cache_creation: { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 5 },
}
const STREAM_MODEL = 'claude-opus-4-1-20250805'
const JSON_MODEL = 'claude-3-5-haiku-20241022'

describe('usage accounting', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer()

  beforeAll(async () => {
    await upstream.start()
    await server.start()
    await server.createConsoleAccount(upstream.url)
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })
  beforeEach(() => upstream.reset())
  // An upstream error in one test leaves the account cooling down: give every test a clean pool.
  beforeEach(() => server.resetAccountStates())

  /** Send one message and read the whole answer (usage is recorded after it ends). */
  async function message(apiKey: string, fields: Record<string, unknown> = {}): Promise<number> {
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody(fields),
    })
    await res.arrayBuffer()
    return res.status
  }

  async function usage(apiKey: string, path = '/api/v1/usage'): Promise<UsageView> {
    const res = await fetch(`${server.url}${path}`, { headers: { 'x-api-key': apiKey } })
    expect(res.status).toBe(200)
    return await res.json() as UsageView
  }

  /** Polls the key's usage until `requests` are recorded (recording follows the response by a few ms). */
  const usageAfter = (apiKey: string, requests: number, path?: string) =>
    pollUntil(() => usage(apiKey, path), u => u.total.requests >= requests)

  it('records a streamed request exactly, under the model the upstream reported', async () => {
    const { id, apiKey } = await server.createKey({ name: 'usage-stream' })
    upstream.behaviour.usage = STREAM_USAGE
    upstream.behaviour.model = STREAM_MODEL
    expect(await message(apiKey, { stream: true, model: 'claude-sonnet-4-5' })).toBe(200)

    const u = await usageAfter(apiKey, 1)
    const expected = totalsOf(STREAM_USAGE)
    expect(u.keyId).toBe(id)
    expect(u.total).toMatchObject({ ...expected, aborted: 0, costMicros: costOf(STREAM_MODEL, STREAM_USAGE) })
    expect(u.total.cost).toBeCloseTo(costOf(STREAM_MODEL, STREAM_USAGE) / 1e6, 9)
    const day = u.daily[0]!
    expect(day.date).toBe(today())
    expect(day).toMatchObject(expected)
    expect(Object.keys(day.models)).toEqual([STREAM_MODEL])
    expect(day.models[STREAM_MODEL]).toMatchObject(expected)
  })

  it('adds a non-streamed request exactly, per model and in total', async () => {
    const { id, apiKey } = await server.createKey({ name: 'usage-both' })
    upstream.behaviour.usage = STREAM_USAGE
    upstream.behaviour.model = STREAM_MODEL
    expect(await message(apiKey, { stream: true })).toBe(200)
    await usageAfter(apiKey, 1)

    upstream.behaviour.usage = JSON_USAGE
    upstream.behaviour.model = JSON_MODEL
    expect(await message(apiKey, { stream: false })).toBe(200)
    const u = await usageAfter(apiKey, 2)

    const both = sum(totalsOf(STREAM_USAGE), totalsOf(JSON_USAGE))
    expect(u.total).toMatchObject({ ...both, aborted: 0, costMicros: costOf(STREAM_MODEL, STREAM_USAGE) + costOf(JSON_MODEL, JSON_USAGE) })
    const day = u.daily[0]!
    expect(day).toMatchObject(both)
    expect(Object.keys(day.models).sort()).toEqual([JSON_MODEL, STREAM_MODEL].sort())
    expect(day.models[STREAM_MODEL]).toMatchObject(totalsOf(STREAM_USAGE))
    expect(day.models[JSON_MODEL]).toMatchObject({ ...totalsOf(JSON_USAGE), costMicros: costOf(JSON_MODEL, JSON_USAGE) })
    expect(u.total.models[JSON_MODEL]).toMatchObject(totalsOf(JSON_USAGE))

    // The CRS alias answers with the same view.
    expect(await usage(apiKey, '/claude/v1/usage')).toEqual(u)

    // key-info: the same totals and today's bucket, and the key's last use.
    for (const path of ['/api/v1/key-info', '/claude/v1/key-info']) {
      const res = await fetch(`${server.url}${path}`, { headers: { 'x-api-key': apiKey } })
      expect(res.status).toBe(200)
      const info = await res.json() as KeyInfo
      expect(info.id).toBe(id)
      expect(info.isActive).toBe(true)
      expect(info.usage.total).toEqual(u.total)
      expect(info.usage.today).toEqual(day)
      expect(info.lastUsedAt).not.toBeNull()
      expect(Math.abs(Date.parse(info.lastUsedAt!) - Date.now())).toBeLessThan(60_000)
    }
  })

  it('stores the documented Redis layout: packed counters per dimension in hour/day/month/total buckets', async () => {
    const { id, apiKey } = await server.createKey({ name: 'usage-redis' })
    upstream.behaviour.usage = STREAM_USAGE
    upstream.behaviour.model = STREAM_MODEL
    expect(await message(apiKey, { stream: true })).toBe(200)
    await usageAfter(apiKey, 1)

    const packed = `1,1234,567,100,200,89,${costOf(STREAM_MODEL, STREAM_USAGE)},0`
    const now = new Date().toISOString()
    const buckets = { [`usage:hour:${now.slice(0, 13)}`]: 8, [`usage:day:${today()}`]: 91, [`usage:month:${now.slice(0, 7)}`]: 400, 'usage:total': 0 }
    for (const [bucket, days] of Object.entries(buckets)) {
      expect(await server.redis.hget(bucket, `k:${id}`)).toBe(packed)
      expect(await server.redis.hget(bucket, `km:${id}:${STREAM_MODEL}`)).toBe(packed)
      const ttl = await server.redis.ttl(bucket)
      if (days === 0) expect(ttl).toBe(-1)
      else expect(ttl).toBeGreaterThan((days - 1) * 86_400)
    }
    expect(await server.redis.smembers(`usage:key_models:${id}`)).toEqual([STREAM_MODEL])
    const recent = (await server.redis.lrange(`usage:recent:${id}`, 0, -1)).map(r => JSON.parse(r))
    expect(recent).toHaveLength(1)
    expect(recent[0]).toMatchObject({ model: STREAM_MODEL, status: 200, inputTokens: 1234, aborted: false, priced: true })
    expect(await server.redis.hget('last_used', `k:${id}`)).not.toBeNull()
  })

  it('records a stream the client aborted, with the input tokens seen and an aborted flag', async () => {
    const { apiKey } = await server.createKey({ name: 'usage-abort' })
    upstream.behaviour.usage = STREAM_USAGE
    upstream.behaviour.model = STREAM_MODEL
    upstream.behaviour.delayMs = 100
    upstream.behaviour.deltas = 30
    const ac = new AbortController()
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', signal: ac.signal,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
    })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    let seen = ''
    // Read until the whole message_start event (with its usage) is in, then walk away.
    while (!/event: message_start\ndata: .*\n\n/.test(seen)) {
      const { done, value } = await reader.read()
      expect(done).toBe(false)
      seen += Buffer.from(value!).toString('utf8')
    }
    expect(seen).not.toContain('message_delta')
    ac.abort()
    await reader.read().catch(() => { /* aborted, as intended */ })

    const u = await usageAfter(apiKey, 1)
    expect(u.total.requests).toBe(1)
    expect(u.total.aborted).toBe(1)
    expect(u.total.inputTokens).toBe(STREAM_USAGE.input_tokens)
    expect(u.total.cacheCreate5m).toBe(100)
    expect(u.total.cacheCreate1h).toBe(200)
    expect(u.total.cacheRead).toBe(89)
    // The final output count (in message_delta) never came.
    expect(u.total.outputTokens).toBeLessThan(STREAM_USAGE.output_tokens)
    expect(u.daily[0]!.aborted).toBe(1)
    expect(u.daily[0]!.models[STREAM_MODEL], JSON.stringify(u)).toMatchObject({ requests: 1, inputTokens: STREAM_USAGE.input_tokens })
  })

  it('flags a stream the upstream cut off, keeping the tokens it reported', async () => {
    const { apiKey } = await server.createKey({ name: 'usage-reset' })
    upstream.behaviour.usage = STREAM_USAGE
    upstream.behaviour.mode = 'reset'
    upstream.behaviour.resetAfter = 4
    upstream.behaviour.delayMs = 20
    expect(await message(apiKey, { stream: true })).toBe(200)
    const u = await usageAfter(apiKey, 1)
    expect(u.total).toMatchObject({ requests: 1, aborted: 1, inputTokens: STREAM_USAGE.input_tokens })
  })

  it('keeps each key\'s usage to itself', async () => {
    const a = await server.createKey({ name: 'usage-a' })
    const b = await server.createKey({ name: 'usage-b' })
    upstream.behaviour.usage = STREAM_USAGE
    expect(await message(a.apiKey, { stream: true })).toBe(200)
    expect((await usageAfter(a.apiKey, 1)).total.requests).toBe(1)

    const other = await usage(b.apiKey)
    expect(other.keyId).toBe(b.id)
    expect(other.total).toEqual({ requests: 0, inputTokens: 0, outputTokens: 0, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0, aborted: 0, costMicros: 0, cost: 0, models: {} })
    expect(other.daily[0]!.models).toEqual({})
  })

  it('adds no tokens for a request the upstream answered with an error', async () => {
    const { apiKey } = await server.createKey({ name: 'usage-error' })
    upstream.behaviour.usage = STREAM_USAGE
    upstream.behaviour.mode = 'error500'
    expect(await message(apiKey, { stream: true })).toBe(500)
    expect(await message(apiKey)).toBe(500)

    // Then a good request: once it is recorded, the totals must be its numbers alone.
    upstream.behaviour.mode = 'ok'
    upstream.behaviour.usage = JSON_USAGE
    expect(await message(apiKey)).toBe(200)
    const u = await pollUntil(() => usage(apiKey), v => v.total.inputTokens > 0)
    const { requests: _r, ...tokens } = totalsOf(JSON_USAGE)
    expect(u.total).toMatchObject(tokens)
  })

  it('records concurrent streams of one key exactly', async () => {
    const { apiKey } = await server.createKey({ name: 'usage-concurrent' })
    upstream.behaviour.usage = STREAM_USAGE
    upstream.behaviour.model = STREAM_MODEL
    upstream.behaviour.delayMs = 10
    const n = 6
    const statuses = await Promise.all(Array.from({ length: n }, () => message(apiKey, { stream: true })))
    expect(statuses).toEqual(Array(n).fill(200))
    const u = await usageAfter(apiKey, n)
    const one = totalsOf(STREAM_USAGE)
    const all = { requests: n, inputTokens: n * one.inputTokens, outputTokens: n * one.outputTokens, cacheCreate5m: n * one.cacheCreate5m, cacheCreate1h: n * one.cacheCreate1h, cacheRead: n * one.cacheRead }
    expect(u.total).toMatchObject({ ...all, aborted: 0, costMicros: n * costOf(STREAM_MODEL, STREAM_USAGE) })
    expect(u.daily[0]!.models[STREAM_MODEL]).toMatchObject(all)
  })

  it('does not resurrect a key deleted while its request was streaming', async () => {
    const { id, apiKey } = await server.createKey({ name: 'usage-deleted-mid-stream' })
    upstream.behaviour.delayMs = 50
    upstream.behaviour.deltas = 10
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
    })
    expect(res.status).toBe(200)
    expect((await server.admin('DELETE', `/api/admin/api-keys/${id}`)).status).toBe(200)
    expect(await server.redis.exists(`api_key:${id}`)).toBe(0)
    await res.arrayBuffer()
    // The stream's usage is recorded after it ended; give that write time to land.
    await pollUntil(() => server.redis.hget('usage:total', `k:${id}`), v => v?.startsWith('1,') ?? false)
    // Recording must not write the deleted key's record back (an orphan hash holding only lastUsedAt).
    expect(await server.redis.hgetall(`api_key:${id}`)).toEqual({})
  })

  it('refuses usage and key-info without a valid key', async () => {
    for (const path of ['/api/v1/usage', '/api/v1/key-info', '/claude/v1/usage']) {
      const res = await fetch(`${server.url}${path}`, { headers: { 'x-api-key': 'cr_not-a-real-key' } })
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    }
  })
})
