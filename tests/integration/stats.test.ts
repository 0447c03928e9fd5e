import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody, pollUntil } from '../helpers/client'
import { TestServer } from '../helpers/server'

interface Row { id: string, requests: number, inputTokens: number, costMicros: number, name?: string | null }

const DAY = 86_400_000
const dayId = (t: number) => new Date(t).toISOString().slice(0, 10)

describe('admin usage stats', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer()
  beforeAll(async () => {
    await upstream.start()
    await server.start()
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })

  it('dashboard, trends and breakdowns follow real relay traffic', async () => {
    const account = await server.createConsoleAccount(upstream.url)
    const { id, apiKey } = await server.createKey({ name: 'stats-live' })
    upstream.behaviour.model = 'claude-3-5-haiku-20241022'
    const before = (await server.admin<{ usage: { today: { requests: number } } }>('GET', '/api/admin/dashboard')).body.usage.today.requests
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: i % 2 === 0 }) })
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
    const dash = await pollUntil(
      async () => (await server.admin<{ usage: { today: { requests: number, inputTokens: number, costMicros: number }, rpm: number, keysUsedToday: number }, accounts: { total: number } }>('GET', '/api/admin/dashboard')).body,
      d => d.usage.today.requests >= before + 3, 3000)
    expect(dash.usage.today.requests).toBe(before + 3)
    expect(dash.usage.today.costMicros).toBeGreaterThan(0)
    expect(dash.usage.rpm).toBeGreaterThan(0)
    expect(dash.usage.keysUsedToday).toBeGreaterThanOrEqual(1)
    expect(dash.accounts.total).toBe(1)

    const trend = (await server.admin<{ series: { bucket: string, requests: number }[] }>('GET', `/api/admin/usage/trend?granularity=hour&dimension=key&id=${id}`)).body.series
    expect(trend.at(-1)).toMatchObject({ bucket: new Date().toISOString().slice(0, 13), requests: 3 })
    expect(trend.length).toBe(25) // the last 24 h, both ends' hours included

    for (const [by, want] of [['key', id], ['account', account.id], ['model', 'claude-3-5-haiku-20241022']] as const) {
      const items = (await server.admin<{ items: Row[] }>('GET', `/api/admin/usage/breakdown?by=${by}`)).body.items
      expect(items.find(r => r.id === want)).toMatchObject({ requests: 3, inputTokens: 75 })
    }
    const detail = (await server.admin<{ usage: { total: { requests: number } }, recent: { status: number }[] }>('GET', `/api/admin/api-keys/${id}/usage`)).body
    expect(detail.usage.total.requests).toBe(3)
    expect(detail.recent).toHaveLength(3)
    expect(detail.recent.every(r => r.status === 200)).toBe(true)
  })

  it('answers over 1,000 keys × 30 days of generated data, summing exactly', async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `gen-${String(i).padStart(4, '0')}`)
    const now = Date.now()
    // Key i spent i+1 requests of (10 in, 5 out, cost (i+1)*7 µ$) on each of the last 30 days;
    // month buckets hold the sum of their days, as recording keeps them.
    const packed = (i: number, days: number) => `${days * (i + 1)},${days * 10 * (i + 1)},${days * 5 * (i + 1)},0,0,0,${days * 7 * (i + 1)},0`
    const daysPerMonth = new Map<string, number>()
    for (let d = 0; d < 30; d++) {
      const day = dayId(now - d * DAY)
      daysPerMonth.set(day.slice(0, 7), (daysPerMonth.get(day.slice(0, 7)) ?? 0) + 1)
      await server.redis.hset(`usage:day:${day}`, Object.fromEntries(keys.map((k, i) => [`k:${k}`, packed(i, 1)])))
    }
    for (const [month, n] of daysPerMonth) await server.redis.hset(`usage:month:${month}`, Object.fromEntries(keys.map((k, i) => [`k:${k}`, packed(i, n)])))
    await server.redis.zadd('api_key_index', ...keys.flatMap((k, i) => [i, k]))
    const from = new Date(now - 29 * DAY).toISOString()
    const timed = async () => {
      const t0 = performance.now()
      const r = await server.admin<{ items: Row[] }>('GET', `/api/admin/usage/breakdown?by=key&granularity=day&from=${from}`)
      return { ...r, ms: performance.now() - t0 }
    }
    const cold = await timed()
    const { status, body, ms } = await timed()
    expect(status).toBe(200)
    const top = body.items.find(r => r.id === 'gen-0999')!
    expect(top).toMatchObject({ requests: 30 * 1000, inputTokens: 30 * 10_000, costMicros: 30 * 7000 })
    expect(body.items[0]!.id).toBe('gen-0999') // largest cost first
    expect(body.items.filter(r => r.id.startsWith('gen-'))).toHaveLength(1000)
    console.log(`breakdown by key over 1,000 keys × 30 days: ${ms.toFixed(1)} ms warm, ${cold.ms.toFixed(1)} ms first call (HTTP round trip included)`)
    // A loose bound that only catches an order-of-magnitude regression (the target is < 50 ms).
    expect(ms).toBeLessThan(1000)

    const trend = await server.admin<{ series: { requests: number }[] }>('GET', `/api/admin/usage/trend?granularity=day&dimension=key&id=gen-0000&from=${from}`)
    expect(trend.body.series).toHaveLength(30)
    expect(trend.body.series.every(p => p.requests === 1)).toBe(true)
  })

  it('validates queries', async () => {
    expect((await server.admin('GET', '/api/admin/usage/breakdown?by=nope')).status).toBe(400)
    expect((await server.admin('GET', '/api/admin/usage/trend?dimension=key')).status).toBe(400)
    expect((await server.admin('GET', '/api/admin/usage/trend?from=yesterday')).status).toBe(400)
    expect((await fetch(`${server.url}/api/admin/dashboard`)).status).toBe(401)
  })
})
