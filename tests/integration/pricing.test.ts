import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pollUntil } from '../helpers/client'
import { TestServer } from '../helpers/server'

interface Item {
  model: string
  family: string
  shipped: boolean
  overridden: boolean
  override: Record<string, number> | null
  price: Record<string, number>
  perMillion: Record<string, number>
}
interface List { items: Item[], total: number }

const base = '/api/admin/pricing'

describe('admin pricing API', () => {
  const a = new TestServer()
  // A second instance on the same Redis data: it must see A's changes through pub/sub.
  const b = new TestServer({}, { prefix: a.prefix })
  beforeAll(async () => {
    await a.start()
    await b.start()
  })
  afterAll(async () => {
    await b.stop({ keepData: true })
    await a.stop()
  })

  /** A model's listing on `server`, read through ?q= (undefined when absent). */
  async function listed(server: TestServer, model: string): Promise<Item | undefined> {
    const { status, body } = await server.admin<List>('GET', `${base}?q=${encodeURIComponent(model)}`)
    expect(status).toBe(200)
    return body.items.find(i => i.model === model)
  }

  /** Connections subscribed to the shared invalidation channel (each instance's subscriber). */
  async function invalidateListeners(): Promise<number> {
    const [, n] = await a.redis.pubsub('NUMSUB', `${a.prefix}events:invalidate`) as [string, number]
    return Number(n)
  }

  it.each([
    ['GET', base], ['PUT', `${base}/claude-sonnet-4-5`], ['DELETE', `${base}/claude-sonnet-4-5`], ['POST', `${base}/reload`],
  ])('%s %s without an admin session → 401', async (method, path) => {
    const res = await fetch(`${a.url}${path}`, {
      method, headers: { 'content-type': 'application/json' },
      body: method === 'PUT' ? JSON.stringify({ output_cost_per_token: 0 }) : undefined,
    })
    expect(res.status).toBe(401)
    expect(await a.redis.exists('pricing_override')).toBe(0)
  })

  it('lists the shipped Claude and Gemini models with per-token and per-million prices', async () => {
    const { status, body } = await a.admin<List>('GET', base)
    expect(status).toBe(200)
    expect(body.total).toBe(body.items.length)
    expect(body.items.length).toBeGreaterThan(50)
    expect(body.items.find(i => i.model === 'claude-sonnet-4-5')).toMatchObject({
      family: 'claude', shipped: true, overridden: false, override: null,
      price: { input: 3e-6, output: 1.5e-5, cacheWrite5m: 3.75e-6, cacheWrite1h: 6e-6, cacheRead: 3e-7 },
      perMillion: { input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3 },
    })
    expect(body.items.find(i => i.model === 'gemini-2.5-pro')).toMatchObject({
      family: 'gemini', perMillion: { input: 1.25, output: 10, cacheRead: 0.125, inputAbove200k: 2.5, outputAbove200k: 15 },
    })
  })

  it('?q= filters by id, case-insensitively', async () => {
    const { body } = await a.admin<List>('GET', `${base}?q=GEMINI-2.5-PRO`)
    expect(body.items.length).toBeGreaterThan(1)
    expect(body.items.every(i => i.model.includes('gemini-2.5-pro'))).toBe(true)
    expect(body.total).toBe(body.items.length)
    expect((await a.admin<List>('GET', `${base}?q=no-such-model`)).body).toEqual({ items: [], total: 0 })
  })

  it('PUT overrides a shipped price on every instance; DELETE restores it', async () => {
    const model = 'claude-sonnet-4-5'
    expect((await listed(b, model))?.perMillion.output).toBe(15) // b builds its table (and subscribes)
    // Both instances listen before the change (a message sent before b's SUBSCRIBE lands would be missed).
    expect(await pollUntil(() => invalidateListeners(), n => n >= 2)).toBeGreaterThanOrEqual(2)

    const put = await a.admin<Item>('PUT', `${base}/${model}`, { output_cost_per_token: 2e-5 })
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({ model, shipped: true, overridden: true, override: { output_cost_per_token: 2e-5 } })
    expect(put.body.perMillion).toMatchObject({ input: 3, output: 20 })
    expect(JSON.parse((await a.redis.hget('pricing_override', model))!)).toEqual({ output_cost_per_token: 2e-5 })
    expect((await listed(a, model))?.perMillion.output).toBe(20)
    expect((await pollUntil(() => listed(b, model), i => i?.perMillion.output === 20))?.perMillion.output).toBe(20)

    const del = await a.admin('DELETE', `${base}/${model}`)
    expect(del).toEqual({ status: 200, body: { ok: true } })
    expect(await a.redis.hexists('pricing_override', model)).toBe(0)
    expect(await listed(a, model)).toMatchObject({ overridden: false, override: null, perMillion: { output: 15 } })
    expect((await pollUntil(() => listed(b, model), i => i?.perMillion.output === 15))?.overridden).toBe(false)

    const again = await a.admin<{ message: string }>('DELETE', `${base}/${model}`)
    expect(again.status).toBe(404)
    expect(again.body.message).toContain(model)
  })

  it('PUT adds a model the shipped table lacks (ids with : @ and /, escaped or not)', async () => {
    for (const [model, path] of [['claude-test-9@2026:beta', 'claude-test-9@2026:beta'], ['custom/model-x', 'custom%2Fmodel-x']] as const) {
      const put = await a.admin<Item>('PUT', `${base}/${path}`, { input_cost_per_token: 1e-5, output_cost_per_token: 5e-5 })
      expect(put.status, JSON.stringify(put.body)).toBe(200)
      expect(put.body).toMatchObject({ model, shipped: false, overridden: true, perMillion: { input: 10, output: 50 } })
      expect(await pollUntil(() => listed(b, model), Boolean)).toMatchObject({ model, shipped: false })
    }
    expect((await a.admin<Item>('GET', `${base}?q=claude-test-9`)).body).toMatchObject({ total: 1 })
    // Claude defaults for the cache prices of a new Claude model.
    expect((await listed(a, 'claude-test-9@2026:beta'))?.perMillion).toMatchObject({ cacheWrite5m: 12.5, cacheWrite1h: 20, cacheRead: 1 })

    expect((await a.admin('DELETE', `${base}/custom/model-x`)).status).toBe(200)
    expect((await a.admin('DELETE', `${base}/claude-test-9@2026:beta`)).status).toBe(200)
    expect(await listed(a, 'custom/model-x')).toBeUndefined()
    expect(await a.redis.hlen('pricing_override')).toBe(0)
  })

  it.each([
    ['claude-sonnet-4-5', { input_cost_per_token: -1 }, /input_cost_per_token: must be 0 or more/],
    ['claude-sonnet-4-5', { input_cost_per_token: 3 }, /input_cost_per_token: is USD per token/],
    ['claude-sonnet-4-5', { input_cost_per_token: '3e-6' }, /input_cost_per_token: must be a number/],
    ['claude-sonnet-4-5', { max_input_tokens: 1000 }, /max_input_tokens/],
    ['claude-sonnet-4-5', {}, /at least one price field/],
    ['claude-brand-new', { input_cost_per_token: 1e-6 }, /output_cost_per_token: required for claude-brand-new/],
    ['anthropic/claude-sonnet-4-5', { input_cost_per_token: 1e-6 }, /set the price on claude-sonnet-4-5/],
    ['claude$bad', { input_cost_per_token: 1e-6 }, /model: may contain only/],
    ['c'.repeat(201), { input_cost_per_token: 1e-6 }, /model: must be at most 200 characters/],
  ])('PUT %s %j → 400 naming the field', async (model, body, message) => {
    const res = await a.admin<{ message: string }>('PUT', `${base}/${encodeURIComponent(model)}`, body)
    expect(res.status).toBe(400)
    expect(res.body.message).toMatch(message)
    expect(await a.redis.hlen('pricing_override')).toBe(0)
  })

  it('POST reload picks up overrides written to Redis directly, on every instance, and skips invalid ones', async () => {
    const model = 'gemini-2.5-flash'
    expect((await listed(a, model))?.perMillion.input).toBe(0.3)
    expect((await listed(b, model))?.perMillion.input).toBe(0.3)
    await a.redis.hset('pricing_override', model, JSON.stringify({ input_cost_per_token: 4e-7 }), 'broken-model', 'not json')
    expect((await listed(a, model))?.perMillion.input).toBe(0.3) // cached until reloaded

    const reload = await a.admin('POST', `${base}/reload`)
    expect(reload).toEqual({ status: 200, body: { models: expect.any(Number), overrides: 1 } })
    expect((await listed(a, model))?.perMillion.input).toBe(0.4)
    expect((await pollUntil(() => listed(b, model), i => i?.perMillion.input === 0.4))?.perMillion.input).toBe(0.4)
    expect(await listed(a, 'broken-model')).toBeUndefined()
    expect(a.output).toContain('ignoring the price override of broken-model')

    await a.redis.del('pricing_override')
    expect((await a.admin('POST', `${base}/reload`)).body).toMatchObject({ overrides: 0 })
    expect((await pollUntil(() => listed(b, model), i => i?.perMillion.input === 0.3))?.overridden).toBe(false)
  })
})
