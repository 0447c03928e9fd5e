import { randomBytes } from 'node:crypto'
import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic, type UpstreamUsage } from '../fixtures/anthropic-upstream'
import { messageBody, pollUntil } from '../helpers/client'
import { REDIS_URL, TestServer } from '../helpers/server'
import prices from '../../server/usage/model-prices.json'
import { rk } from '../../server/store/keys'
import { defineScripts } from '../../server/store/scripts'
import { recordUsage } from '../../server/usage/record'
import { SESSION_LEDGER_MAX, SESSION_TOUCH_MS } from '../../server/usage/sessions'

// The prompt-cache ledger (issue 17 §3) of a scripted conversation, against the price table.
const MODEL = 'claude-sonnet-4-5'
const P = (prices as unknown as Record<string, Record<string, number>>)[MODEL]!
const STICKY_TTL_S = 3600

interface Ledger { reads: number, writes5m: number, writes1h: number, uncachedInput: number, hitRate: number | null, savedMicros: number, savedUsd: number }
type Turn = UpstreamUsage

const turn = (input: number, w5m: number, w1h: number, read: number): Turn => ({
  input_tokens: input, output_tokens: 10, cache_creation_input_tokens: w5m + w1h, cache_read_input_tokens: read,
  cache_creation: { ephemeral_5m_input_tokens: w5m, ephemeral_1h_input_tokens: w1h },
})
// One conversation: writes its context (5m and 1h), then reads it twice, adding a little each time.
const CONVERSATION = [turn(50, 1000, 2000, 0), turn(20, 0, 0, 3000), turn(30, 200, 0, 3000)]
// Another session of the same key that wrote and never read: caching cost it money.
const WRITE_ONLY = [turn(10, 500, 0, 0)]

/** The ledger computed here from the price JSON, independently of the server's code (pico-USD integers). */
function expected(turns: Turn[]): Ledger {
  const t = turns.reduce((a, u) => ({
    reads: a.reads + u.cache_read_input_tokens!, writes5m: a.writes5m + u.cache_creation!.ephemeral_5m_input_tokens,
    writes1h: a.writes1h + u.cache_creation!.ephemeral_1h_input_tokens, uncachedInput: a.uncachedInput + u.input_tokens,
  }), { reads: 0, writes5m: 0, writes1h: 0, uncachedInput: 0 })
  const pico = (usd: number) => Math.round(usd * 1e12)
  const input = pico(P.input_cost_per_token!)
  const savedPico = t.reads * (input - pico(P.cache_read_input_token_cost!)) + t.writes5m * (input - pico(P.cache_creation_input_token_cost!))
    + t.writes1h * (input - pico(P.cache_creation_input_token_cost_above_1hr!))
  const savedMicros = Math.sign(savedPico) * Math.round(Math.abs(savedPico) / 1e6)
  const prompt = t.reads + t.writes5m + t.writes1h + t.uncachedInput
  return { ...t, hitRate: prompt ? t.reads / prompt : null, savedMicros, savedUsd: savedMicros / 1e6 }
}

describe('prompt-cache ledger over the relay', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer({ STICKY_SESSION_TTL_SECONDS: String(STICKY_TTL_S) })
  let key: { id: string, apiKey: string }
  let account: { id: string }

  beforeAll(async () => {
    await upstream.start()
    await server.start()
    account = await server.createConsoleAccount(upstream.url)
    key = await server.createKey({ name: 'ledger' })
    upstream.behaviour.model = MODEL
    const send = async (userId: string, u: Turn, stream: boolean) => {
      upstream.behaviour.usage = u
      const res = await fetch(`${server.url}/api/v1/messages`, {
        method: 'POST', headers: { 'x-api-key': key.apiKey, 'content-type': 'application/json' },
        body: messageBody({ model: MODEL, stream, metadata: { user_id: userId } }),
      })
      await res.arrayBuffer()
      expect(res.status).toBe(200)
    }
    let n = 0
    for (const u of CONVERSATION) {
      await send('user_1_account_2_session_aaaaaaaa-1111', u, n % 2 === 0)
      n++
      await pollUntil(() => keyUsage(), v => v.total.requests >= n)
    }
    await send('user_1_account_2_session_bbbbbbbb-2222', WRITE_ONLY[0]!, true)
    await pollUntil(() => keyUsage(), v => v.total.requests >= n + 1)
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })

  async function keyUsage() {
    const res = await fetch(`${server.url}/api/v1/usage`, { headers: { 'x-api-key': key.apiKey } })
    expect(res.status).toBe(200)
    return await res.json() as { keyId: string, total: { requests: number, cacheRead: number }, daily: { date: string }[], cache: Ledger }
  }

  const all = expected([...CONVERSATION, ...WRITE_ONLY])

  it('the key holder sees the key\'s ledger in GET /api/v1/usage; the old fields stay', async () => {
    const u = await keyUsage()
    expect(u.cache).toEqual(all)
    expect(u.total).toMatchObject({ requests: 4, cacheRead: 6000 })
    // Hand-checked once: 6000 reads save 6000 × 2.7 µ$, 1700 5m writes cost 1700 × 0.75 µ$ more,
    // 2000 1h writes 2000 × 3 µ$ more: 16 200 − 1 275 − 6 000 = 8 925 µ$.
    expect(all.savedMicros).toBe(8925)
  })

  it('per sticky session, in the admin key usage: the write-only session shows its loss', async () => {
    const { status, body } = await server.admin<{ sessions: (Ledger & { session: string, models: string[], requests: number, lastAt: string })[], usage: { cache: Ledger } }>('GET', `/api/admin/api-keys/${key.id}/usage`)
    expect(status).toBe(200)
    expect(body.usage.cache).toEqual(all)
    expect(body.sessions).toHaveLength(2)
    // Most recently used first.
    const [writeOnly, conversation] = body.sessions
    expect(conversation).toMatchObject({ ...expected(CONVERSATION), models: [MODEL], requests: 3 })
    expect(writeOnly).toMatchObject({ ...expected(WRITE_ONLY), models: [MODEL], requests: 1, hitRate: 0 })
    expect(writeOnly!.savedMicros).toBe(-375)
    // The session ids are the relay's hashes, never the client's user id.
    expect(JSON.stringify(body.sessions)).not.toContain('aaaaaaaa')
  })

  it('per account and per model, all time and over a range', async () => {
    for (const by of ['account', 'model'] as const) {
      const { status, body } = await server.admin<{ items: (Ledger & { id: string, requests: number })[] }>('GET', `/api/admin/usage/cache?by=${by}`)
      expect(status).toBe(200)
      expect(body.items).toEqual([{ id: by === 'account' ? account.id : MODEL, requests: 4, ...all }])
      const from = new Date(Date.now() - 86_400_000).toISOString()
      const ranged = await server.admin<{ items: unknown[] }>('GET', `/api/admin/usage/cache?by=${by}&from=${encodeURIComponent(from)}`)
      expect(ranged.body.items).toEqual(body.items)
    }
    const bad = await server.admin('GET', '/api/admin/usage/cache?by=key')
    expect(bad.status).toBe(400)
  })

  it('the dashboard trend carries the ledger per bucket', async () => {
    const { body } = await server.admin<{ series: (Ledger & { bucket: string, requests: number })[] }>('GET', '/api/admin/usage/cache-trend?granularity=hour')
    const hour = new Date().toISOString().slice(0, 13)
    expect(body.series.at(-1)).toEqual({ bucket: hour, id: hour, requests: 4, ...all })
    expect(body.series.slice(0, -1).every(p => p.requests === 0 && p.hitRate === null && p.savedMicros === 0)).toBe(true)
  })

  it('/metrics exports cache tokens, hit ratio and savings per model', async () => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${await server.adminToken()}` } })
    const text = await res.text()
    const value = (name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1])
    expect(value('crs_cache_tokens', `model="${MODEL}",kind="read"`)).toBe(all.reads)
    expect(value('crs_cache_tokens', `model="${MODEL}",kind="write_5m"`)).toBe(all.writes5m)
    expect(value('crs_cache_tokens', `model="${MODEL}",kind="write_1h"`)).toBe(all.writes1h)
    expect(value('crs_cache_tokens', `model="${MODEL}",kind="uncached_input"`)).toBe(all.uncachedInput)
    expect(value('crs_cache_hit_ratio', `model="${MODEL}"`)).toBeCloseTo(all.hitRate!, 12)
    expect(value('crs_cache_saved_usd', `model="${MODEL}"`)).toBeCloseTo(all.savedUsd, 12)
  })

  it('the session ledger expires like the sticky binding', async () => {
    const ttl = await server.redis.pttl(rk.usageSessions(key.id))
    expect(ttl).toBeGreaterThan(STICKY_TTL_S * 1000)
    expect(ttl).toBeLessThanOrEqual(STICKY_TTL_S * 1000 + SESSION_TOUCH_MS)
  })
})

describe('session ledger bounds (the recordUsage script)', () => {
  const prefix = `ledger-it:${randomBytes(6).toString('hex')}:`
  const redis = defineScripts(new Redis(REDIS_URL, { keyPrefix: prefix, maxRetriesPerRequest: 1 }))
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length) await redis.del(...keys.map(k => k.slice(prefix.length)))
    redis.disconnect()
  })

  it(`a key keeps at most ${SESSION_LEDGER_MAX} session entries: the least recently used go`, async () => {
    const start = Date.now()
    for (let i = 0; i < SESSION_LEDGER_MAX + 5; i++) {
      await recordUsage(redis, {
        requestId: `r${i}`, keyId: 'k1', accountId: 'a1', model: MODEL, sessionHash: `s${i}`,
        usage: { inputTokens: 1, outputTokens: 1, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 2 },
        costMicros: 1, priced: true, counted: true, aborted: false, status: 200, durationMs: 1, at: new Date(start + i), windowStart: '', leaseId: '',
      }, false, 60_000)
    }
    const fields = await redis.hkeys(rk.usageSessions('k1'))
    expect(fields).toHaveLength(SESSION_LEDGER_MAX + 1) // + the touch stamp
    expect(fields).not.toContain(`s0:${MODEL}`)
    expect(fields).not.toContain(`s4:${MODEL}`)
    expect(fields).toContain(`s5:${MODEL}`)
    expect(await redis.hget(rk.usageSessions('k1'), `s${SESSION_LEDGER_MAX + 4}:${MODEL}`)).toBe(`1,1,1,0,0,2,1,0|${start + SESSION_LEDGER_MAX + 4}`)
  })
})
