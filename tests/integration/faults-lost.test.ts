import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody, rawRequest } from '../helpers/client'
import { TestServer, testSecrets } from '../helpers/server'

// Issue 13 §6: a request cut by its instance's own crash cannot be recorded by it. It is listed in
// flight while it runs; once the instance's alive key expires (15 s), another instance counts it
// lost, visible in GET /api/admin/usage/lost, the dashboard and /metrics crs_requests_lost.

interface Lost { requestId: string, keyId: string, keyName?: string, accountId: string, model: string, protocol: string, startedAt: number, detectedAt: number }

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const upstream = new FakeAnthropic()
// Two instances of one deployment: the same secrets and Redis data.
const secrets = testSecrets()
const a = new TestServer(secrets)
let b: TestServer
let accountId = ''
const keys = { free: { id: '', apiKey: '' }, limited: { id: '', apiKey: '' } }
const ids = { a: '', b: '' }

/** Instance ids listed in Redis (`instances`). */
const instances = () => a.redis.smembers('instances')
/** The one instance id that appeared since `before`. */
async function newInstance(before: string[]): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const added = (await instances()).filter(id => !before.includes(id))
    if (added.length === 1) return added[0]!
    await sleep(50)
  }
  throw new Error('no new instance listed in Redis')
}

beforeAll(async () => {
  await upstream.start()
  await a.start()
  ids.a = await newInstance([])
  accountId = (await a.createConsoleAccount(upstream.url)).id
  keys.free = await a.createKey({ name: 'no limits' })
  keys.limited = await a.createKey({ name: 'five at a time', concurrencyLimit: 5 })
  b = await new TestServer(secrets, { prefix: a.prefix }).start()
  ids.b = await newInstance([ids.a])
})
afterAll(async () => {
  await b?.stop({ keepData: true })
  await a.stop()
  await upstream.stop()
})

const send = (server: TestServer, apiKey: string, stream = false) =>
  rawRequest(`${server.url}/api/v1/messages`, { headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: messageBody({ stream }) })
const lost = async (server: TestServer) => (await server.admin<{ total: number, entries: Lost[] }>('GET', '/api/admin/usage/lost')).body
async function scrapeLost(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${await server.adminToken()}` } })).text()
  return Number(/^crs_requests_lost (\d+)$/m.exec(text)?.[1] ?? Number.NaN)
}

describe('requests in flight', () => {
  it('are listed while they run and leave the list however they end (done, upstream error, client gone)', async () => {
    const inflight = () => b.redis.hlen(`inflight:${ids.b}`)
    upstream.behaviour = { ...upstream.behaviour, delayMs: 200, deltas: 10 }
    for (const key of [keys.free, keys.limited]) {
      const running = send(b, key.apiKey, true)
      await expect.poll(inflight).toBe(1)
      const [field, entry] = Object.entries(await b.redis.hgetall(`inflight:${ids.b}`))[0]!
      expect(JSON.parse(entry)).toMatchObject({ keyId: key.id, accountId, model: 'claude-sonnet-4-5', protocol: 'anthropic' })
      const res = await running
      expect(res.status).toBe(200)
      expect(field).toBe(res.headers['x-request-id'])
      await expect.poll(inflight).toBe(0)
    }

    upstream.behaviour = { ...upstream.behaviour, delayMs: 0, mode: 'error500' }
    for (const key of [keys.free, keys.limited]) expect((await send(b, key.apiKey)).status).toBeGreaterThanOrEqual(500)
    await expect.poll(inflight).toBe(0)
    upstream.behaviour.mode = 'ok'
    await b.resetAccountStates()

    // The client leaves mid-stream: recorded as aborted, out of the list.
    upstream.behaviour.delayMs = 300
    const ac = new AbortController()
    const res = await fetch(`${b.url}/api/v1/messages`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json', 'x-api-key': keys.free.apiKey }, body: messageBody({ stream: true }) })
    await res.body!.getReader().read()
    expect(await inflight()).toBe(1)
    ac.abort()
    await expect.poll(inflight).toBe(0)
    expect((await lost(b)).total).toBe(0)
  })
})

describe('an instance killed mid-request', () => {
  it('its unfinished requests are counted lost by the other instance (exactly those), finished ones never', async () => {
    upstream.reset()
    upstream.behaviour = { ...upstream.behaviour, delayMs: 0, deltas: 3 }
    const finished = [await send(a, keys.free.apiKey, true), await send(a, keys.limited.apiKey)]
    expect(finished.map(r => r.status)).toEqual([200, 200])

    // ~60 s streams: two of the key without limits, one of the limited key, all through A.
    upstream.behaviour = { ...upstream.behaviour, delayMs: 1000, deltas: 60 }
    const streams = [keys.free, keys.free, keys.limited].map(k => send(a, k.apiKey, true).catch(() => null))
    await expect.poll(() => upstream.requests.length).toBe(5)
    await expect.poll(() => a.redis.hlen(`inflight:${ids.a}`)).toBe(3)
    const cut = (await a.redis.hkeys(`inflight:${ids.a}`)).sort()
    // Served by B meanwhile: finished, never lost either.
    upstream.behaviour.delayMs = 0
    const servedByB = await send(b, keys.free.apiKey)
    expect(servedByB.status).toBe(200)

    await a.kill('SIGKILL')
    const killedAt = Date.now()
    await Promise.all(streams)
    let seen = await lost(b)
    while (seen.total < 3 && Date.now() - killedAt < 30_000) {
      await sleep(250)
      seen = await lost(b)
    }
    const after = Date.now() - killedAt
    console.log(`lost requests: ${seen.total} listed on the other instance ${after} ms after SIGKILL`)
    expect(seen.total).toBe(3)
    expect(after).toBeLessThan(25_000)
    expect(seen.entries.map(e => e.requestId).sort()).toEqual(cut)
    expect(seen.entries.map(e => e.keyId).sort()).toEqual([keys.free.id, keys.free.id, keys.limited.id].sort())
    for (const e of seen.entries) {
      expect(e).toMatchObject({ accountId, model: 'claude-sonnet-4-5', protocol: 'anthropic', keyName: e.keyId === keys.free.id ? 'no limits' : 'five at a time' })
      expect(e.startedAt).toBeLessThanOrEqual(killedAt)
      expect(e.detectedAt).toBeGreaterThan(killedAt)
    }
    const notLost = [...finished, servedByB].map(r => r.headers['x-request-id'])
    expect(notLost.every(Boolean)).toBe(true)
    for (const id of notLost) expect(seen.entries.map(e => e.requestId)).not.toContain(id)

    // Counted once, and the dead instance is forgotten: a later reap finds nothing more.
    expect(await scrapeLost(b)).toBe(3)
    const dashboard = (await b.admin<{ lost: { total: number, entries: Lost[] } }>('GET', '/api/admin/dashboard')).body
    expect(dashboard.lost.total).toBe(3)
    expect(dashboard.lost.entries).toHaveLength(3)
    expect(await instances()).not.toContain(ids.a)
    expect(await b.redis.exists(`inflight:${ids.a}`)).toBe(0)
    await sleep(6000) // past B's next reap
    expect((await lost(b)).total).toBe(3)
  }, 60_000)

  it('a clean stop (SIGTERM) with nothing in flight leaves at once and nothing lost', async () => {
    const before = await instances()
    const c = await new TestServer(secrets, { prefix: a.prefix }).start()
    const id = await newInstance(before)
    expect(await c.redis.exists(`instance:${id}`)).toBe(1)
    expect((await send(c, keys.free.apiKey)).status).toBe(200)
    await expect.poll(() => c.redis.hlen(`inflight:${id}`)).toBe(0)
    await c.kill('SIGTERM')
    // Gone at once (not left to expire), so no reaper could count anything of it.
    expect(await b.redis.exists(`instance:${id}`)).toBe(0)
    expect(await instances()).not.toContain(id)
    expect((await lost(b)).total).toBe(3)
    await c.stop({ keepData: true })
  })
})
