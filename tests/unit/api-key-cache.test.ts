import { randomBytes } from 'node:crypto'
import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateApiKey } from '../../server/crypto'
import { ApiKeyCache } from '../../server/keys/cache'
import { createApiKey, deleteApiKey, findApiKeyByHash, updateApiKey } from '../../server/keys/records'
import { rk } from '../../server/store/keys'

// Runs against the real Redis (REDIS_URL or 127.0.0.1:6379) under a prefix of its own.
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const PREFIX = `unit:${randomBytes(6).toString('hex')}:`
const SALT = 'unit-test-salt-0123456789'
const TTL = 30_000
const T0 = 1_700_000_000_000

let redis: Redis
let raw: Redis

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { keyPrefix: PREFIX, lazyConnect: true, maxRetriesPerRequest: 1 })
  raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await Promise.all([redis.connect(), raw.connect()])
  }
  catch (err) {
    throw new Error(`these tests need Redis at ${REDIS_URL}: ${(err as Error).message}`)
  }
})

afterAll(async () => {
  if (raw?.status === 'ready') {
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await raw.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500)
      keys.push(...batch)
      cursor = next
    } while (cursor !== '0')
    if (keys.length) await raw.del(...keys)
    expect(await raw.keys(`${PREFIX}*`)).toEqual([])
  }
  redis?.disconnect()
  raw?.disconnect()
})

const newKey = (name = 'unit key') => createApiKey(redis, SALT, { name })

describe('ApiKeyCache', () => {
  it('stores keys under its prefix only (sanity for the cleanup)', async () => {
    const { record } = await newKey()
    expect(await raw.exists(`${PREFIX}${rk.apiKey(record.id)}`)).toBe(1)
    expect(await raw.exists(rk.apiKey(record.id))).toBe(0)
  })

  it('finds a key in Redis, then serves it from the cache until invalidate(id)', async () => {
    const cache = new ApiKeyCache(TTL)
    const { record, apiKey } = await newKey('cached')
    expect(await cache.lookup(redis, SALT, apiKey, T0)).toEqual(record)

    // Delete the record behind the cache's back: Redis no longer knows the key…
    await deleteApiKey(redis, record.id)
    expect(await findApiKeyByHash(redis, record.hash)).toBeNull()
    // …but the cache still answers, so it did not ask Redis again.
    expect(await cache.lookup(redis, SALT, apiKey, T0 + 1)).toEqual(record)
    expect(await cache.lookup(redis, SALT, apiKey, T0 + 2)).toEqual(record)

    cache.invalidate(record.id)
    expect(await cache.lookup(redis, SALT, apiKey, T0 + 3)).toBeNull()
  })

  it('shows an updated record only after invalidate(id)', async () => {
    const cache = new ApiKeyCache(TTL)
    const { record, apiKey } = await newKey('before')
    await cache.lookup(redis, SALT, apiKey, T0)
    const updated = await updateApiKey(redis, record.id, { name: 'after', isActive: false })
    expect(updated?.name).toBe('after')

    expect((await cache.lookup(redis, SALT, apiKey, T0 + 1))?.name).toBe('before')
    cache.invalidate(record.id)
    const fresh = await cache.lookup(redis, SALT, apiKey, T0 + 2)
    expect(fresh?.name).toBe('after')
    expect(fresh?.isActive).toBe(false)
  })

  it('invalidates only the key it is told about', async () => {
    const cache = new ApiKeyCache(TTL)
    const a = await newKey('a')
    const b = await newKey('b')
    await cache.lookup(redis, SALT, a.apiKey, T0)
    await cache.lookup(redis, SALT, b.apiKey, T0)
    await deleteApiKey(redis, a.record.id)
    await deleteApiKey(redis, b.record.id)

    cache.invalidate(a.record.id)
    cache.invalidate('no-such-id')
    expect(await cache.lookup(redis, SALT, a.apiKey, T0 + 1)).toBeNull()
    expect(await cache.lookup(redis, SALT, b.apiKey, T0 + 1)).toEqual(b.record)
  })

  it('expires an entry after ttlMs', async () => {
    const cache = new ApiKeyCache(TTL)
    const { record, apiKey } = await newKey('ttl')
    await cache.lookup(redis, SALT, apiKey, T0)
    await deleteApiKey(redis, record.id)

    expect(await cache.lookup(redis, SALT, apiKey, T0 + TTL - 1)).toEqual(record)
    expect(await cache.lookup(redis, SALT, apiKey, T0 + TTL)).toBeNull()
  })

  it('an entry refreshed from Redis lives another ttlMs from the refresh', async () => {
    const cache = new ApiKeyCache(TTL)
    const { record, apiKey } = await newKey('refresh')
    await cache.lookup(redis, SALT, apiKey, T0)
    const refreshedAt = T0 + TTL
    expect(await cache.lookup(redis, SALT, apiKey, refreshedAt)).toEqual(record)
    await deleteApiKey(redis, record.id)
    expect(await cache.lookup(redis, SALT, apiKey, refreshedAt + TTL - 1)).toEqual(record)
    expect(await cache.lookup(redis, SALT, apiKey, refreshedAt + TTL)).toBeNull()
  })

  it('caches a miss for missTtlMs, then asks Redis again', async () => {
    const missTtl = 500
    const cache = new ApiKeyCache(TTL, missTtl)
    const { record, apiKey } = await newKey('miss')
    const pointer = rk.apiKeyHash(record.hash)
    const id = await redis.get(pointer)
    expect(id).toBe(record.id)

    await redis.del(pointer)
    expect(await cache.lookup(redis, SALT, apiKey, T0)).toBeNull()
    await redis.set(pointer, id!)
    expect(await findApiKeyByHash(redis, record.hash)).toEqual(record)

    // Redis knows the key again, but the cached miss still answers…
    expect(await cache.lookup(redis, SALT, apiKey, T0 + missTtl - 1)).toBeNull()
    // …until it expires; misses expire much sooner than hits.
    expect(missTtl).toBeLessThan(TTL)
    expect(await cache.lookup(redis, SALT, apiKey, T0 + missTtl)).toEqual(record)
  })

  it('by default caches misses no longer than hits', async () => {
    const ttl = 100
    const cache = new ApiKeyCache(ttl)
    const { record, apiKey } = await newKey('short ttl')
    const pointer = rk.apiKeyHash(record.hash)
    await redis.del(pointer)
    expect(await cache.lookup(redis, SALT, apiKey, T0)).toBeNull()
    await redis.set(pointer, record.id)
    expect(await cache.lookup(redis, SALT, apiKey, T0 + ttl)).toEqual(record)
  })

  it('returns null for a key that was never created, and for the right key with another salt', async () => {
    const cache = new ApiKeyCache(TTL)
    const { record, apiKey } = await newKey('salted')
    expect(await cache.lookup(redis, SALT, generateApiKey(), T0)).toBeNull()
    expect(await cache.lookup(redis, SALT + 'x', apiKey, T0)).toBeNull()
    expect(await cache.lookup(redis, SALT, apiKey, T0)).toEqual(record)
  })

  it('clear() forgets everything', async () => {
    const cache = new ApiKeyCache(TTL)
    const { record, apiKey } = await newKey('clear')
    await cache.lookup(redis, SALT, apiKey, T0)
    await deleteApiKey(redis, record.id)
    cache.clear()
    expect(await cache.lookup(redis, SALT, apiKey, T0 + 1)).toBeNull()
  })
})
