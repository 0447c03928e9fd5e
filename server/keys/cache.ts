import type Redis from 'ioredis'
import { hashApiKey } from '../crypto'
import { findApiKeyByHash, type ApiKeyRecord } from './records'

interface Entry { record: ApiKeyRecord | null, at: number }

/** Asked when a key misses the HMAC index (keys imported from claude-relay-service: legacy.ts). */
export type MissFallback = (redis: Redis, apiKey: string, hash: string) => Promise<ApiKeyRecord | null>

const MAX_ENTRIES = 10_000

/**
 * In-process cache of key lookups by HMAC, so repeat requests of a key cost no Redis round trip.
 * Entries live `ttlMs` at most; changes are pushed by invalidate() (called locally and from
 * Redis pub/sub), so the TTL only bounds staleness if a pub/sub message is lost. Misses are
 * cached too (briefly) so a flood of bad keys cannot hammer Redis, and the map is bounded.
 */
export class ApiKeyCache {
  private byHash = new Map<string, Entry>()
  private hashById = new Map<string, string>()

  constructor(private readonly ttlMs: number, private readonly missTtlMs = Math.min(ttlMs, 2000), private readonly onMiss?: MissFallback) {}

  /** Resolve a plaintext key to its record (null when unknown). */
  async lookup(redis: Redis, salt: string, apiKey: string, now = Date.now()): Promise<ApiKeyRecord | null> {
    const hash = hashApiKey(apiKey, salt)
    const hit = this.byHash.get(hash)
    if (hit && now - hit.at < (hit.record ? this.ttlMs : this.missTtlMs)) return hit.record
    const record = await findApiKeyByHash(redis, hash) ?? await this.onMiss?.(redis, apiKey, hash) ?? null
    this.store(hash, record, now)
    return record
  }

  private store(hash: string, record: ApiKeyRecord | null, now: number): void {
    if (this.byHash.size >= MAX_ENTRIES) this.evictOldest()
    this.byHash.set(hash, { record, at: now })
    if (record) this.hashById.set(record.id, hash)
  }

  private evictOldest(): void {
    // Map iteration order is insertion order: drop the oldest tenth.
    let n = Math.ceil(MAX_ENTRIES / 10)
    for (const [hash, entry] of this.byHash) {
      this.byHash.delete(hash)
      if (entry.record) this.hashById.delete(entry.record.id)
      if (--n === 0) break
    }
  }

  /** Forget a key by id (it changed or was deleted). */
  invalidate(id: string): void {
    const hash = this.hashById.get(id)
    if (hash) this.byHash.delete(hash)
    this.hashById.delete(id)
  }

  clear(): void {
    this.byHash.clear()
    this.hashById.clear()
  }
}
