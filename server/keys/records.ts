import { randomUUID } from 'node:crypto'
import type { ChainableCommander } from 'ioredis'
import type Redis from 'ioredis'
import { generateApiKey, hashApiKey } from '../crypto'
import { rk } from '../store/keys'

export type Permission = 'all' | 'claude' | 'gemini'

/** What an admin sets on a key (the admin API, CLI and UI share these names). 0 = limit off. */
export interface ApiKeySettings {
  name: string
  description: string
  tags: string[]
  isActive: boolean
  expiresAt: string | null
  /** Days of validity counted from the first request (0 = off). */
  activationDays: number
  permissions: Permission
  /** `*` globs; empty = every model. */
  allowedModels: string[]
  blockedModels: string[]
  /** Client ids (claude_code, gemini_cli, …); empty = any client. */
  allowedClients: string[]
  rateLimitWindow: number
  rateLimitRequests: number
  rateLimitTokens: number
  rateLimitCost: number
  concurrencyLimit: number
  dailyCostLimit: number
  weeklyCostLimit: number
  totalCostLimit: number
  tokenLimit: number
  claudeAccountId: string | null
  geminiAccountId: string | null
  /** When the dedicated account cannot serve, let the shared pool serve instead (off by default). */
  dedicatedFallback: boolean
}

/** An API key as stored: settings plus system fields (never the plaintext key, only its HMAC). */
export interface ApiKeyRecord extends ApiKeySettings {
  id: string
  createdAt: string
  updatedAt: string
  lastUsedAt: string | null
  activatedAt: string | null
  /** '' for a key imported from claude-relay-service that was not used here yet (server/keys/legacy.ts). */
  hash: string
}

export type ApiKeyInput = Pick<ApiKeySettings, 'name'> & Partial<ApiKeySettings>

/** Public view for admin responses: everything but the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'hash'>

export function toView({ hash: _hash, ...view }: ApiKeyRecord): ApiKeyView {
  return view
}

const DEFAULTS: ApiKeySettings = {
  name: '', description: '', tags: [], isActive: true, expiresAt: null, activationDays: 0, permissions: 'all',
  allowedModels: [], blockedModels: [], allowedClients: [], rateLimitWindow: 0, rateLimitRequests: 0,
  rateLimitTokens: 0, rateLimitCost: 0, concurrencyLimit: 0, dailyCostLimit: 0, weeklyCostLimit: 0,
  totalCostLimit: 0, tokenLimit: 0, claudeAccountId: null, geminiAccountId: null, dedicatedFallback: false,
}

// How each field is kept in the Redis hash: the type of its default decides the codec.
type Codec = 'string' | 'nullable' | 'bool' | 'number' | 'list'
const CODECS: Record<string, Codec> = Object.fromEntries([
  ...Object.entries(DEFAULTS).map(([k, v]) => [k, v === null ? 'nullable' : Array.isArray(v) ? 'list' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'number' : 'string']),
  ['id', 'string'], ['createdAt', 'string'], ['updatedAt', 'string'], ['hash', 'string'], ['activatedAt', 'nullable'],
])

/** The Redis hash of a record (the CRS import writes records it builds itself, under their old ids). */
export function toHash(r: ApiKeyRecord): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [field, codec] of Object.entries(CODECS)) {
    const v = r[field as keyof ApiKeyRecord]
    out[field] = codec === 'bool' ? (v ? '1' : '0') : codec === 'list' ? JSON.stringify(v) : v == null ? '' : String(v)
  }
  return out
}

function decode(codec: Codec, raw: string | undefined, def: unknown): unknown {
  if (raw === undefined) return def
  switch (codec) {
    case 'bool': return raw === '1'
    case 'number': return Number(raw) || 0
    case 'nullable': return raw || null
    case 'list': {
      try {
        const v = JSON.parse(raw)
        return Array.isArray(v) ? v.map(String) : []
      }
      catch {
        return []
      }
    }
    default: return raw
  }
}

/** Parse HGETALL output; null for a missing key. `lastUsedAt` lives in the `last_used` hash. */
export function fromHash(h: Record<string, string>, lastUsedAt: string | null = null): ApiKeyRecord | null {
  if (!h.id) return null
  const r: Record<string, unknown> = { lastUsedAt }
  for (const [field, codec] of Object.entries(CODECS)) r[field] = decode(codec, h[field], (DEFAULTS as unknown as Record<string, unknown>)[field] ?? null)
  return r as unknown as ApiKeyRecord
}

/**
 * A key's entry in the small search index (`api_key_search`: id → "name\ttag1,tag2" lower-cased),
 * so listing can filter 10,000 keys with one HGETALL instead of reading every record.
 */
export const searchText = (r: Pick<ApiKeySettings, 'name' | 'tags'>) => `${r.name}\t${r.tags.join(',')}`.toLowerCase()

/** Create a key; returns the record and the plaintext key (shown to the admin once). */
export async function createApiKey(redis: Redis, salt: string, input: ApiKeyInput): Promise<{ record: ApiKeyRecord, apiKey: string }> {
  const apiKey = generateApiKey()
  const record = apiKeyRecord(input, { id: randomUUID(), createdAt: new Date().toISOString(), hash: hashApiKey(apiKey, salt) })
  const tx = redis.multi()
  writeApiKey(tx, record)
  await tx.exec()
  return { record, apiKey }
}

type SystemFields = Omit<ApiKeyRecord, keyof ApiKeySettings>

/**
 * A complete record from settings (defaults for the rest) and system fields: a new key's, or one
 * imported with its own id, dates and no hash yet (`hash: ''`, the CRS migration).
 */
export function apiKeyRecord(input: ApiKeyInput, system: Pick<SystemFields, 'id' | 'createdAt'> & Partial<SystemFields>): ApiKeyRecord {
  return { ...DEFAULTS, ...stripUndefined(input), updatedAt: system.createdAt, lastUsedAt: null, activatedAt: null, hash: '', ...system }
}

/**
 * Queue the writes of a whole key: record, HMAC pointer (none while `hash` is '', as for a key
 * imported from claude-relay-service), creation index and search entry. Creation and the CRS
 * migration share it, so an imported key is stored exactly like one made here.
 */
export function writeApiKey(pipe: ChainableCommander, record: ApiKeyRecord): void {
  pipe.hset(rk.apiKey(record.id), toHash(record))
  if (record.hash) pipe.set(rk.apiKeyHash(record.hash), record.id)
  pipe.zadd(rk.apiKeyIndex(), Date.parse(record.createdAt) || Date.now(), record.id)
  pipe.hset(rk.apiKeySearch(), record.id, searchText(record))
}

export async function getApiKey(redis: Redis, id: string): Promise<ApiKeyRecord | null> {
  const rows = await redis.pipeline().hgetall(rk.apiKey(id)).hget(rk.lastUsed(), `k:${id}`).exec()
  return fromHash((rows?.[0]?.[1] ?? {}) as Record<string, string>, (rows?.[1]?.[1] ?? null) as string | null)
}

export interface ListQuery { offset: number, limit: number, q?: string, tag?: string, sort: 'createdAt' | 'name', order: 'asc' | 'desc' }

/**
 * A page of keys, newest first by default, filtered by name/tag substring: one round trip for
 * the id index (and the search hash when filtering), one pipeline for the page's records.
 */
export async function listApiKeys(redis: Redis, query: ListQuery): Promise<{ items: ApiKeyRecord[], total: number }> {
  let ids: string[]
  if (query.q || query.tag || query.sort === 'name') {
    const [[, all], [, search]] = (await redis.pipeline().zrevrange(rk.apiKeyIndex(), 0, -1).hgetall(rk.apiKeySearch()).exec()) as [unknown, unknown][]
    const text = search as Record<string, string>
    const q = query.q?.toLowerCase()
    const tag = query.tag?.toLowerCase()
    ids = (all as string[]).filter((id) => {
      const [name = '', tags = ''] = (text[id] ?? '').split('\t')
      return (!q || name.includes(q) || tags.includes(q)) && (!tag || tags.split(',').includes(tag))
    })
    if (query.sort === 'name') ids.sort((a, b) => (text[a] ?? '').localeCompare(text[b] ?? ''))
  }
  else {
    ids = await redis.zrevrange(rk.apiKeyIndex(), 0, -1)
  }
  // Name order is built A→Z, creation order newest-first: flip whichever is the other way round.
  if (query.order === (query.sort === 'name' ? 'desc' : 'asc')) ids.reverse()
  const page = ids.slice(query.offset, query.offset + query.limit)
  if (page.length === 0) return { items: [], total: ids.length }
  const pipe = redis.pipeline()
  for (const id of page) pipe.hgetall(rk.apiKey(id))
  pipe.hmget(rk.lastUsed(), ...page.map(id => `k:${id}`))
  const rows = (await pipe.exec()) ?? []
  const last = rows.pop()?.[1] as (string | null)[]
  const items = rows.map(([, h], i) => fromHash(h as Record<string, string>, last[i] ?? null)).filter((r): r is ApiKeyRecord => r !== null)
  return { items, total: ids.length }
}

/** Apply a partial update; returns the new record or null when the key does not exist. */
export async function updateApiKey(redis: Redis, id: string, patch: Partial<ApiKeySettings>): Promise<ApiKeyRecord | null> {
  const current = await getApiKey(redis, id)
  if (!current) return null
  const next: ApiKeyRecord = { ...current, ...stripUndefined(patch), updatedAt: new Date().toISOString() }
  // `hash` is not a setting: leave it alone, or an imported key re-hashed meanwhile would lose its HMAC.
  const { hash: _hash, ...fields } = toHash(next)
  await redis.multi().hset(rk.apiKey(id), fields).hset(rk.apiKeySearch(), id, searchText(next)).exec()
  return next
}

/** Delete a key and everything that only exists for it (usage history in shared buckets stays). */
export async function deleteApiKey(redis: Redis, id: string): Promise<ApiKeyRecord | null> {
  // The legacy hashes (keys imported from claude-relay-service) are few and shrink as keys get used.
  const [current, legacy] = await Promise.all([getApiKey(redis, id), redis.hgetall(rk.legacyKeyHashes())])
  if (!current) return null
  const tx = redis.multi()
    .del(rk.apiKey(id), rk.rateWindow(id), rk.leases(id), rk.usageRecent(id), rk.usageKeyModels(id), rk.usageSessions(id))
    .zrem(rk.apiKeyIndex(), id)
    .hdel(rk.apiKeySearch(), id)
    .hdel(rk.lastUsed(), `k:${id}`)
  if (current.hash) tx.del(rk.apiKeyHash(current.hash))
  const legacyOfKey = Object.keys(legacy).filter(crsHash => legacy[crsHash] === id)
  if (legacyOfKey.length) tx.hdel(rk.legacyKeyHashes(), ...legacyOfKey)
  await tx.exec()
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
