import { randomBytes } from 'node:crypto'
import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rk } from '../../server/store/keys'
import { defineScripts } from '../../server/store/scripts'
import { inflightEntry, LOST_MAX, parseLostEntry, reapLost } from '../../server/usage/lost'
import { recordUsage, type UsageEvent } from '../../server/usage/record'

// The lost store's scripts on their own, against real Redis (REDIS_URL or 127.0.0.1:6379) under a
// key prefix of their own: the prefix reaches names built inside Lua, a reap counts each request
// once however many instances reap, a record that lands late takes its lost entry back.
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const PREFIX = `lost-it:${randomBytes(6).toString('hex')}:`
const clients: Redis[] = []
const client = () => {
  const c = defineScripts(new Redis(REDIS_URL, { keyPrefix: PREFIX, maxRetriesPerRequest: 1 }))
  clients.push(c)
  return c
}
let redis: Redis
let raw: Redis

beforeAll(() => {
  redis = client()
  raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
})
afterAll(async () => {
  const keys = await raw.keys(`${PREFIX}*`)
  if (keys.length) await raw.del(...keys)
  for (const c of clients) c.disconnect()
  raw.disconnect()
})

const entry = (keyId: string, startedAt = 1000) => inflightEntry({ keyId, accountId: 'acc-1', model: 'claude-sonnet-4-5', startedAt, protocol: 'anthropic' })

/** An instance with `n` requests in flight; alive unless `dead`. Returns the request ids. */
async function instance(id: string, n: number, dead: boolean): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${id}-req-${i}`)
  const pipe = redis.pipeline().sadd(rk.instances(), id)
  if (!dead) pipe.set(rk.instance(id), '1', 'PX', 15_000)
  for (const r of ids) pipe.hset(rk.inflight(id), r, entry(`key-${id}`))
  await pipe.exec()
  return ids
}

const event = (requestId: string, instanceId: string): UsageEvent => ({
  requestId, instanceId, keyId: 'key-late', accountId: 'acc-1', model: 'claude-sonnet-4-5',
  usage: { inputTokens: 10, outputTokens: 5, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0 },
  costMicros: 100, priced: true, counted: true, aborted: false, status: 200, durationMs: 5, at: new Date(), windowStart: '', leaseId: '',
})

describe('reapLost', () => {
  it('moves only dead instances\' requests, once, however many instances reap at the same time', async () => {
    const deadIds = await instance('dead-1', 3, true)
    await instance('alive-1', 2, false)
    const moved = await Promise.all([reapLost(client(), 5000), reapLost(client(), 5000), reapLost(redis, 5000)])
    expect(moved.reduce((a, b) => a + b, 0)).toBe(3)
    expect((await redis.hkeys(rk.usageLost())).sort()).toEqual(deadIds)
    expect(await redis.zcard(rk.usageLostAt())).toBe(3)
    const lost = parseLostEntry(deadIds[0]!, (await redis.hget(rk.usageLost(), deadIds[0]!))!)
    expect(lost).toEqual({ requestId: deadIds[0], keyId: 'key-dead-1', accountId: 'acc-1', model: 'claude-sonnet-4-5', protocol: 'anthropic', startedAt: 1000, detectedAt: 5000 })
    // The dead instance is forgotten (names built inside the script carry the prefix); the live one untouched.
    expect(await redis.smembers(rk.instances())).toEqual(['alive-1'])
    expect(await raw.exists(`${PREFIX}${rk.inflight('dead-1')}`)).toBe(0)
    expect(await redis.hlen(rk.inflight('alive-1'))).toBe(2)
    expect(await reapLost(redis, 6000)).toBe(0)
  })

  it('keeps the newest LOST_MAX entries', async () => {
    const before = await redis.hlen(rk.usageLost())
    await instance('dead-big', LOST_MAX, true)
    expect(await reapLost(redis, 7000)).toBe(LOST_MAX)
    const newest = await instance('dead-last', 2, true)
    expect(await reapLost(redis, 8000)).toBe(2)
    expect(before).toBeGreaterThan(0)
    expect(await redis.hlen(rk.usageLost())).toBe(LOST_MAX)
    expect(await redis.zcard(rk.usageLostAt())).toBe(LOST_MAX)
    expect(await redis.zrevrange(rk.usageLostAt(), 0, 1)).toEqual(expect.arrayContaining(newest))
    // The oldest (detected at 5000) went first.
    expect(await redis.zcount(rk.usageLostAt(), '-inf', 5000)).toBe(0)
  })
})

describe('recordUsage and the in-flight entry', () => {
  it('a recorded request leaves its instance\'s in-flight hash (the lost store untouched)', async () => {
    await redis.hset(rk.inflight('alive-1'), 'req-now', entry('key-late'))
    const lostBefore = await redis.hlen(rk.usageLost())
    expect(await recordUsage(redis, event('req-now', 'alive-1'))).toBe(true)
    expect(await redis.hexists(rk.inflight('alive-1'), 'req-now')).toBe(0)
    expect(await redis.hlen(rk.usageLost())).toBe(lostBefore)
  })

  it('a request counted lost that lands later (a journal replay) is no longer lost, and counted once', async () => {
    const [id] = await instance('dead-2', 1, true)
    await reapLost(redis, 9000)
    expect(await redis.hexists(rk.usageLost(), id!)).toBe(1)
    expect(await recordUsage(redis, event(id!, 'dead-2'), true)).toBe(true)
    expect(await redis.hexists(rk.usageLost(), id!)).toBe(0)
    expect(await redis.zscore(rk.usageLostAt(), id!)).toBeNull()
    // Replayed again (its first replay's answer was lost): found in the recent list, nothing counted twice.
    expect(await recordUsage(redis, event(id!, 'dead-2'), true)).toBe(false)
    expect(await redis.llen(rk.usageRecent('key-late'))).toBe(2)
  })
})
