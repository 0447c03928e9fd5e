import { randomUUID } from 'node:crypto'
import type Redis from 'ioredis'
import { generateApiKey, hashApiKey } from '../crypto'
import { rk } from '../store/keys'

/** An API key as stored (never the plaintext key, only its HMAC). */
export interface ApiKeyRecord {
  id: string
  name: string
  description: string
  isActive: boolean
  expiresAt: string | null
  createdAt: string
  updatedAt: string
  lastUsedAt: string | null
  hash: string
}

export type ApiKeyInput = Pick<ApiKeyRecord, 'name'> & Partial<Pick<ApiKeyRecord, 'description' | 'isActive' | 'expiresAt'>>

/** Public view for admin responses: everything but the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'hash'>

export function toView({ hash: _hash, ...view }: ApiKeyRecord): ApiKeyView {
  return view
}

function toHash(r: ApiKeyRecord): Record<string, string> {
  return {
    id: r.id, name: r.name, description: r.description, isActive: r.isActive ? '1' : '0',
    expiresAt: r.expiresAt ?? '', createdAt: r.createdAt, updatedAt: r.updatedAt,
    lastUsedAt: r.lastUsedAt ?? '', hash: r.hash,
  }
}

/** Parse HGETALL output; null for a missing key. */
export function fromHash(h: Record<string, string>): ApiKeyRecord | null {
  if (!h.id) return null
  return {
    id: h.id, name: h.name ?? '', description: h.description ?? '', isActive: h.isActive === '1',
    expiresAt: h.expiresAt || null, createdAt: h.createdAt ?? '', updatedAt: h.updatedAt ?? '',
    lastUsedAt: h.lastUsedAt || null, hash: h.hash ?? '',
  }
}

/** Create a key; returns the record and the plaintext key (shown to the admin once). */
export async function createApiKey(redis: Redis, salt: string, input: ApiKeyInput): Promise<{ record: ApiKeyRecord, apiKey: string }> {
  const apiKey = generateApiKey()
  const now = new Date().toISOString()
  const record: ApiKeyRecord = {
    id: randomUUID(), name: input.name, description: input.description ?? '', isActive: input.isActive ?? true,
    expiresAt: input.expiresAt ?? null, createdAt: now, updatedAt: now, lastUsedAt: null, hash: hashApiKey(apiKey, salt),
  }
  await redis.multi()
    .hset(rk.apiKey(record.id), toHash(record))
    .set(rk.apiKeyHash(record.hash), record.id)
    .zadd(rk.apiKeyIndex(), Date.parse(now), record.id)
    .exec()
  return { record, apiKey }
}

export async function getApiKey(redis: Redis, id: string): Promise<ApiKeyRecord | null> {
  return fromHash(await redis.hgetall(rk.apiKey(id)))
}

/** All keys, newest first. (Paging and search arrive with the key-limits issue.) */
export async function listApiKeys(redis: Redis): Promise<ApiKeyRecord[]> {
  const ids = await redis.zrevrange(rk.apiKeyIndex(), 0, -1)
  if (ids.length === 0) return []
  const pipe = redis.pipeline()
  for (const id of ids) pipe.hgetall(rk.apiKey(id))
  const rows = (await pipe.exec()) ?? []
  return rows.map(([, h]) => fromHash(h as Record<string, string>)).filter((r): r is ApiKeyRecord => r !== null)
}

/** Apply a partial update; returns the new record or null when the key does not exist. */
export async function updateApiKey(redis: Redis, id: string, patch: Partial<ApiKeyInput>): Promise<ApiKeyRecord | null> {
  const current = await getApiKey(redis, id)
  if (!current) return null
  const next: ApiKeyRecord = { ...current, ...stripUndefined(patch), updatedAt: new Date().toISOString() }
  await redis.hset(rk.apiKey(id), toHash(next))
  return next
}

/** Delete a key, its hash index entry and its usage totals' owner link. */
export async function deleteApiKey(redis: Redis, id: string): Promise<ApiKeyRecord | null> {
  const current = await getApiKey(redis, id)
  if (!current) return null
  await redis.multi()
    .del(rk.apiKey(id))
    .del(rk.apiKeyHash(current.hash))
    .zrem(rk.apiKeyIndex(), id)
    .exec()
  return current
}

/** Look a key up by the HMAC of its plaintext: two O(1) reads (the cache spares them on repeat). */
export async function findApiKeyByHash(redis: Redis, hash: string): Promise<ApiKeyRecord | null> {
  const id = await redis.get(rk.apiKeyHash(hash))
  return id ? getApiKey(redis, id) : null
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
