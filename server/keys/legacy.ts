import { createHash } from 'node:crypto'
import type { ChainableCommander } from 'ioredis'
import type Redis from 'ioredis'
import { decryptSecret, encryptSecret } from '../crypto'
import { channels, invalidation, rk } from '../store/keys'
import { type ApiKeyRecord, getApiKey } from './records'

/*
 * Keys imported from claude-relay-service (issue 16). CRS keeps a key only as
 * sha256(key + its ENCRYPTION_KEY), so an imported key has no HMAC here until a client presents it
 * once: a lookup that misses the HMAC index tries that "legacy hash", and a hit moves the key to
 * the HMAC and drops the legacy entry, so the legacy hashes run out as keys get used.
 */

// CRS keys are `cr_` + 64 hex characters; nothing longer than this is hashed on their behalf.
const CRS_PREFIX = 'cr_'
const MAX_CRS_KEY_LENGTH = 128
const CRS_HASH = /^[0-9a-f]{64}$/

/** Could this be a key CRS issued? (Checked before hashing: unknown keys cost nothing more.) */
export const looksLikeCrsKey = (key: string): boolean => key.length <= MAX_CRS_KEY_LENGTH && key.startsWith(CRS_PREFIX)

/** CRS's key hash: sha256(plaintext + CRS ENCRYPTION_KEY), lower-case hex. */
export function crsKeyHash(plaintext: string, crsSecret: string): string {
  return createHash('sha256').update(plaintext + crsSecret).digest('hex')
}

/** The stored CRS secret in clear, or null when it does not decrypt with our ENCRYPTION_KEY. */
function openSecret(sealed: string, encryptionKey: string): string | null {
  try {
    return decryptSecret(sealed, encryptionKey)
  }
  catch {
    return null
  }
}

/**
 * Remember the CRS secret, encrypted with this relay's ENCRYPTION_KEY (server/crypto), so lookups can
 * compute legacy hashes. One CRS secret per deployment: storing a different one while legacy hashes
 * of another remain throws an Error whose message says so (same secret again: no-op).
 */
export async function saveLegacySecret(redis: Redis, encryptionKey: string, crsSecret: string): Promise<void> {
  if (!crsSecret) throw new Error('The CRS ENCRYPTION_KEY is empty: pass the one claude-relay-service runs with.')
  const sealed = encryptSecret(crsSecret, encryptionKey)
  if (await redis.set(rk.legacySecret(), sealed, 'NX') !== 'OK') {
    const [stored, remaining] = await Promise.all([redis.get(rk.legacySecret()), countLegacyHashes(redis)])
    if (stored && openSecret(stored, encryptionKey) === crsSecret) return
    if (remaining > 0) {
      throw new Error(`Another CRS ENCRYPTION_KEY is stored already, and ${remaining} key(s) imported with it have not been used here yet. `
        + 'Import from the same claude-relay-service (same ENCRYPTION_KEY), or wait until `check:integrity` reports no legacy key hashes left.')
    }
    await redis.set(rk.legacySecret(), sealed)
  }
  // Running servers read the secret once; tell them it is there (or changed).
  await redis.publish((redis.options.keyPrefix ?? '') + channels.invalidate, invalidation.legacySecret())
}

/** Queue, on a pipeline/multi, the index entry legacy hash → key id (idempotent). */
export function addLegacyHash(pipe: ChainableCommander, crsHash: string, keyId: string): void {
  if (!CRS_HASH.test(crsHash)) throw new Error('A CRS key hash is 64 lower-case hex characters (sha256).')
  if (!keyId) throw new Error('A legacy key hash needs the id of the key it belongs to.')
  pipe.hset(rk.legacyKeyHashes(), crsHash, keyId)
}

/** How many legacy hashes remain (for check:integrity and the migration summary). */
export async function countLegacyHashes(redis: Redis): Promise<number> {
  return redis.hlen(rk.legacyKeyHashes())
}

// If the `legacy_secret` message was lost, an instance that found no secret looks again this often
// (only when a key misses the HMAC index, so a deployment that never imported pays one GET a minute at most).
const ABSENT_RECHECK_MS = 60_000

/**
 * The lookup side: the CRS secret, decrypted once per process and kept in memory (read again when
 * `forget()` is called on the `legacy_secret` message), and the resolution of a key by its legacy hash.
 */
export class LegacyKeys {
  /** undefined: not read yet; null: none stored (or it does not decrypt). */
  private secret: string | null | undefined
  private readAt = 0
  // Bumped by forget(), so a read that was under way when the secret changed is not kept.
  private generation = 0

  constructor(private readonly encryptionKey: string, private readonly onUndecryptable: () => void = () => {}) {}

  /** The stored secret changed: read it again at the next miss. */
  forget(): void {
    this.secret = undefined
    this.generation++
  }

  /**
   * A key that missed the HMAC index, tried by its CRS hash. On a hit the key is moved to `hmac`
   * (its pointer set, its record's hash set, the legacy entry dropped — one script) and its record
   * returned; null otherwise. Costs nothing when no CRS secret is stored.
   */
  async find(redis: Redis, apiKey: string, hmac: string, now = Date.now()): Promise<ApiKeyRecord | null> {
    if (!looksLikeCrsKey(apiKey)) return null
    const secret = await this.load(redis, now)
    if (!secret) return null
    const crsHash = crsKeyHash(apiKey, secret)
    const id = await redis.hget(rk.legacyKeyHashes(), crsHash)
    if (!id) return null
    const record = await getApiKey(redis, id)
    if (!record) return null
    const moved = await redis.rehashLegacyKey(rk.legacyKeyHashes(), rk.apiKey(id), rk.apiKeyHash(hmac), crsHash, id, hmac)
    return moved === 1 ? { ...record, hash: hmac } : null
  }

  private async load(redis: Redis, now: number): Promise<string | null> {
    if (this.secret !== undefined && (this.secret !== null || now - this.readAt < ABSENT_RECHECK_MS)) return this.secret
    const generation = this.generation
    const sealed = await redis.get(rk.legacySecret())
    const secret = sealed ? openSecret(sealed, this.encryptionKey) : null
    if (sealed && secret === null) this.onUndecryptable()
    if (generation === this.generation) {
      this.secret = secret
      this.readAt = now
    }
    return secret
  }
}
