import { createHash, randomBytes, randomUUID } from 'node:crypto'
import Redis from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { decryptSecret, generateApiKey, hashApiKey } from '../../server/crypto'
import { ApiKeyCache } from '../../server/keys/cache'
import { addLegacyHash, countLegacyHashes, crsKeyHash, LegacyKeys, saveLegacySecret } from '../../server/keys/legacy'
import { apiKeyRecord, deleteApiKey, getApiKey, updateApiKey, writeApiKey } from '../../server/keys/records'
import { rk } from '../../server/store/keys'
import { defineScripts } from '../../server/store/scripts'

// Runs against the real Redis (REDIS_URL or 127.0.0.1:6379) under a prefix of its own.
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const PREFIX = `unit:${randomBytes(6).toString('hex')}:`
const ENC = '0123456789abcdef0123456789abcdef'
const SALT = 'unit-test-salt-0123456789'
const CRS_SECRET = 'CHANGE-THIS-32-CHARACTER-KEY-NOW'

let redis: Redis

beforeAll(async () => {
  redis = defineScripts(new Redis(REDIS_URL, { keyPrefix: PREFIX, lazyConnect: true, maxRetriesPerRequest: 1 }))
  try {
    await redis.connect()
  }
  catch (err) {
    throw new Error(`these tests need Redis at ${REDIS_URL}: ${(err as Error).message}`)
  }
})

const wipe = async () => {
  const keys = await redis.keys(`${PREFIX}*`)
  if (keys.length) await redis.del(...keys.map(k => k.slice(PREFIX.length)))
}
beforeEach(wipe)
afterAll(async () => {
  await wipe()
  redis?.disconnect()
})

/** Write a key the way the CRS migration does: its own id, no HMAC yet, its CRS hash as a legacy hash. */
async function importKey(name = 'imported'): Promise<{ id: string, apiKey: string }> {
  const apiKey = generateApiKey()
  const record = apiKeyRecord({ name }, { id: randomUUID(), createdAt: '2025-01-02T03:04:05.000Z' })
  const tx = redis.multi()
  writeApiKey(tx, record)
  addLegacyHash(tx, crsKeyHash(apiKey, CRS_SECRET), record.id)
  await tx.exec()
  return { id: record.id, apiKey }
}

describe('crsKeyHash', () => {
  const key = generateApiKey()
  const secret = randomBytes(16).toString('hex')
  it.each([
    // Checked by hand: printf '%s' '<key><secret>' | sha256sum
    ['cr_' + '0123456789abcdef'.repeat(4), CRS_SECRET, 'def793465f96dd43965ea07c4ed6131431a53ba54c0b547deb2db17b45d1756e'],
    ['cr_testkey', 'CRS-secret-ü', 'f3bad72d95582a88a0acdc5a2d305f2610e475aa43441bebe66b459715c6dc3c'],
    [key, secret, createHash('sha256').update(key + secret, 'utf8').digest('hex')],
  ])('sha256(%s + secret)', (plaintext, crsSecret, expected) => {
    expect(crsKeyHash(plaintext, crsSecret)).toBe(expected)
  })
})

describe('saveLegacySecret', () => {
  const stored = async () => decryptSecret((await redis.get(rk.legacySecret()))!, ENC)

  it('stores the secret encrypted, and the same secret again changes nothing', async () => {
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    const sealed = await redis.get(rk.legacySecret())
    expect(sealed).not.toContain(CRS_SECRET)
    expect(await stored()).toBe(CRS_SECRET)
    await importKey()
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    expect(await redis.get(rk.legacySecret())).toBe(sealed)
  })

  it('refuses another secret while legacy hashes of the first remain, and takes it once none do', async () => {
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    const { id } = await importKey()
    await expect(saveLegacySecret(redis, ENC, 'another-crs-secret')).rejects.toThrow(/Another CRS ENCRYPTION_KEY is stored already, and 1 key\(s\)/)
    expect(await stored()).toBe(CRS_SECRET)
    await deleteApiKey(redis, id)
    expect(await countLegacyHashes(redis)).toBe(0)
    await saveLegacySecret(redis, ENC, 'another-crs-secret')
    expect(await stored()).toBe('another-crs-secret')
  })

  it('refuses an empty secret', async () => {
    await expect(saveLegacySecret(redis, ENC, '')).rejects.toThrow(/empty/)
  })
})

describe('addLegacyHash', () => {
  it('is idempotent and refuses what is not a sha256 hex digest', async () => {
    const hash = crsKeyHash('cr_x', CRS_SECRET)
    for (let i = 0; i < 2; i++) {
      const tx = redis.multi()
      addLegacyHash(tx, hash, 'key-1')
      await tx.exec()
    }
    expect(await countLegacyHashes(redis)).toBe(1)
    expect(() => addLegacyHash(redis.multi(), hash.toUpperCase(), 'key-1')).toThrow(/64 lower-case hex/)
    expect(() => addLegacyHash(redis.multi(), hash, '')).toThrow(/id/)
  })
})

describe('LegacyKeys.find', () => {
  const hmacOf = (apiKey: string) => hashApiKey(apiKey, SALT)

  it('moves a key to the HMAC at its first use: pointer and record hash set, legacy hash gone', async () => {
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    const { id, apiKey } = await importKey()
    const found = await new LegacyKeys(ENC).find(redis, apiKey, hmacOf(apiKey))
    expect(found).toMatchObject({ id, name: 'imported', hash: hmacOf(apiKey) })
    expect(await redis.get(rk.apiKeyHash(hmacOf(apiKey)))).toBe(id)
    expect((await getApiKey(redis, id))!.hash).toBe(hmacOf(apiKey))
    expect(await countLegacyHashes(redis)).toBe(0)
  })

  it('two instances using a key for the first time at once both serve it', async () => {
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    const { id, apiKey } = await importKey()
    const results = await Promise.all([new LegacyKeys(ENC), new LegacyKeys(ENC)].map(l => l.find(redis, apiKey, hmacOf(apiKey))))
    expect(results.map(r => r?.id)).toEqual([id, id])
    expect(await redis.get(rk.apiKeyHash(hmacOf(apiKey)))).toBe(id)
    expect(await countLegacyHashes(redis)).toBe(0)
  })

  it.each([
    ['a wrong key', CRS_SECRET, () => generateApiKey()],
    ['the right key when the stored CRS secret is another', 'not-the-crs-secret', (k: string) => k],
  ])('finds nothing for %s', async (_label, storedSecret, present) => {
    await saveLegacySecret(redis, ENC, storedSecret)
    const presented = present((await importKey()).apiKey)
    expect(await new LegacyKeys(ENC).find(redis, presented, hmacOf(presented))).toBeNull()
    expect(await countLegacyHashes(redis)).toBe(1)
  })

  it('finds nothing for a key deleted meanwhile, and re-creates none of it', async () => {
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    const { id, apiKey } = await importKey()
    // The legacy entry outlived its record (as if a delete raced the lookup).
    await redis.del(rk.apiKey(id))
    expect(await new LegacyKeys(ENC).find(redis, apiKey, hmacOf(apiKey))).toBeNull()
    expect(await redis.exists(rk.apiKey(id), rk.apiKeyHash(hmacOf(apiKey)))).toBe(0)
  })

  it('never touches Redis for a key that is not a cr_ key or is too long', async () => {
    // A client that is not connected: any command would reject.
    const offline = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
    const legacy = new LegacyKeys(ENC)
    for (const key of ['sk-ant-api03-abc', 'cr_' + 'a'.repeat(200), '']) {
      await expect(legacy.find(offline, key, hmacOf(key))).resolves.toBeNull()
    }
    await expect(legacy.find(offline, generateApiKey(), 'x')).rejects.toThrow()
    offline.disconnect()
  })

  it('remembers that no secret is stored until told (forget) that one is', async () => {
    const { id, apiKey } = await importKey()
    const legacy = new LegacyKeys(ENC)
    const t0 = 1_700_000_000_000
    expect(await legacy.find(redis, apiKey, hmacOf(apiKey), t0)).toBeNull()
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    expect(await legacy.find(redis, apiKey, hmacOf(apiKey), t0 + 1000)).toBeNull()
    legacy.forget()
    expect((await legacy.find(redis, apiKey, hmacOf(apiKey), t0 + 2000))?.id).toBe(id)
  })

  it('looks for a secret again after a minute without one, in case the message was lost', async () => {
    const { id, apiKey } = await importKey()
    const legacy = new LegacyKeys(ENC)
    const t0 = 1_700_000_000_000
    expect(await legacy.find(redis, apiKey, hmacOf(apiKey), t0)).toBeNull()
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    expect((await legacy.find(redis, apiKey, hmacOf(apiKey), t0 + 60_000))?.id).toBe(id)
  })

  it('reports a secret that does not decrypt with ENCRYPTION_KEY, and finds nothing', async () => {
    await saveLegacySecret(redis, 'fedcba9876543210fedcba9876543210', CRS_SECRET)
    const { apiKey } = await importKey()
    let reported = 0
    expect(await new LegacyKeys(ENC, () => reported++).find(redis, apiKey, hmacOf(apiKey))).toBeNull()
    expect(reported).toBe(1)
  })
})

describe('an imported key in the rest of the key code', () => {
  it('is found through ApiKeyCache with the legacy fallback, then by its HMAC alone', async () => {
    await saveLegacySecret(redis, ENC, CRS_SECRET)
    const { id, apiKey } = await importKey()
    const legacy = new LegacyKeys(ENC)
    const cache = new ApiKeyCache(30_000, undefined, (r, key, hash) => legacy.find(r, key, hash))
    expect((await cache.lookup(redis, SALT, apiKey))?.id).toBe(id)
    // A fresh cache without the fallback finds it now: it is an ordinary key.
    expect((await new ApiKeyCache(30_000).lookup(redis, SALT, apiKey))?.id).toBe(id)
  })

  it('update keeps the record\'s hash (a re-hash that happened meanwhile is not undone)', async () => {
    const { id, apiKey } = await importKey()
    await redis.hset(rk.apiKey(id), 'hash', hashApiKey(apiKey, SALT))
    expect(await updateApiKey(redis, id, { name: 'renamed' })).toMatchObject({ name: 'renamed' })
    expect(await redis.hget(rk.apiKey(id), 'hash')).toBe(hashApiKey(apiKey, SALT))
  })

  it('delete removes its legacy hash and leaves other keys\' alone', async () => {
    const a = await importKey('a')
    await importKey('b')
    expect(await countLegacyHashes(redis)).toBe(2)
    expect((await deleteApiKey(redis, a.id))?.id).toBe(a.id)
    expect(Object.values(await redis.hgetall(rk.legacyKeyHashes()))).not.toContain(a.id)
    expect(await countLegacyHashes(redis)).toBe(1)
    expect(await redis.exists(rk.apiKey(a.id), rk.apiKeyHash(''))).toBe(0)
  })

  it('delete removes the key\'s prompt-cache session ledger too', async () => {
    const { id } = await importKey('with sessions')
    await redis.hset(rk.usageSessions(id), 'somehash|claude-sonnet-4-5', '1')
    await deleteApiKey(redis, id)
    expect(await redis.exists(rk.usageSessions(id))).toBe(0)
  })
})
