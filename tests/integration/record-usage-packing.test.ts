import { randomBytes } from 'node:crypto'
import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rk } from '../../server/store/keys'
import { defineScripts } from '../../server/store/scripts'
import { bucketIds, dim, unpack } from '../../server/usage/buckets'
import { recordUsage, type UsageEvent } from '../../server/usage/record'

// The recordUsage script adds a request's packed counters into every dimension of every bucket.
// A well-formed value takes a fast path (one match, one format); anything else — a value written
// with fewer parts, or by an older release in another number form — the general one. Both must
// add exactly, up to 2^53, against real Redis under a prefix of their own.
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const PREFIX = `pack-it:${randomBytes(6).toString('hex')}:`
let redis: Redis
let raw: Redis

beforeAll(() => {
  redis = defineScripts(new Redis(REDIS_URL, { keyPrefix: PREFIX, maxRetriesPerRequest: 1 }))
  raw = new Redis(REDIS_URL, { keyPrefix: PREFIX, maxRetriesPerRequest: 1 })
})
afterAll(async () => {
  const keys = await raw.keys(`${PREFIX}*`)
  if (keys.length) await raw.del(...keys.map(k => k.slice(PREFIX.length)))
  redis.disconnect()
  raw.disconnect()
})

const AT = new Date('2026-12-07T10:15:00Z')
const b = bucketIds(AT)
let n = 0
const event = (keyId: string, tokens: { input: number, output: number, read?: number }, costMicros: number, aborted = false): UsageEvent => ({
  requestId: `req-${++n}`, keyId, accountId: 'acc-p', model: 'claude-sonnet-4-5',
  usage: { inputTokens: tokens.input, outputTokens: tokens.output, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: tokens.read ?? 0 },
  costMicros, priced: true, counted: true, aborted, status: 200, durationMs: 5, at: AT, windowStart: '', leaseId: '',
})
const field = (bucket: string, f: string) => raw.hget(bucket, f)

describe('recordUsage adds packed counters exactly', () => {
  it('sums requests into every dimension and bucket (the minute field only in the hour bucket)', async () => {
    await recordUsage(redis, event('k-sum', { input: 12, output: 30 }, 486))
    await recordUsage(redis, event('k-sum', { input: 7, output: 3, read: 100 }, 14, true))
    const want = '2,19,33,0,0,100,500,1'
    for (const bucket of [rk.usageBucket('hour', b.hour), rk.usageBucket('day', b.day), rk.usageBucket('month', b.month), rk.usageTotal()]) {
      expect(await field(bucket, dim.key('k-sum'))).toBe(want)
      expect(await field(bucket, dim.keyModel('k-sum', 'claude-sonnet-4-5'))).toBe(want)
    }
    expect(await field(rk.usageBucket('hour', b.hour), dim.minute(b.minute))).not.toBeNull()
    expect(await field(rk.usageBucket('day', b.day), dim.minute(b.minute))).toBeNull()
  })

  it('adds onto values in other forms: fewer parts, exponents, a sign (the general path)', async () => {
    const day = rk.usageBucket('day', b.day)
    await raw.hset(day, dim.key('k-short'), '3,10,20', dim.key('k-exp'), '1,1e+3,0,0,0,0,2.5e+3,0', dim.key('k-neg'), '1,-5,0,0,0,0,0,0')
    await recordUsage(redis, event('k-short', { input: 1, output: 2 }, 9))
    await recordUsage(redis, event('k-exp', { input: 1, output: 2 }, 9))
    await recordUsage(redis, event('k-neg', { input: 10, output: 0 }, 0))
    expect(await field(day, dim.key('k-short'))).toBe('4,11,22,0,0,0,9,0')
    expect(await field(day, dim.key('k-exp'))).toBe('2,1001,2,0,0,0,2509,0')
    expect(await field(day, dim.key('k-neg'))).toBe('2,5,0,0,0,0,0,0')
  })

  it('stays exact up to 2^53', async () => {
    const total = rk.usageTotal()
    const big = 2 ** 53 - 10
    await raw.hset(total, dim.key('k-big'), `1,${big},0,0,0,0,${big},0`)
    await recordUsage(redis, event('k-big', { input: 9, output: 0 }, 9))
    const c = unpack(await field(total, dim.key('k-big')))
    expect(c.inputTokens).toBe(big + 9)
    expect(c.costMicros).toBe(big + 9)
    expect(await field(total, dim.key('k-big'))).toBe(`2,${big + 9},0,0,0,0,${big + 9},0`)
  })
})
