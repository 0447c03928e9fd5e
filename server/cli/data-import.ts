import type Redis from 'ioredis'
import { decryptSecret, encryptSecret } from '../crypto'
import { invalidation, rk } from '../store/keys'
import { CliError } from './args'
import { type DataFile, fingerprint, type Secrets } from './data-format'
import { ENCRYPTED_ACCOUNT_FIELDS, searchTextOf } from './integrity'

/** What an import wrote (and which running-server caches it must invalidate). */
export interface ImportSummary {
  apiKeys: number
  accounts: { claude: number, gemini: number }
  admins: number
  pricingOverrides: number
  usageKeys: number
  /** Usage keys whose TTL ran out since the export (not restored). */
  usageExpired: number
  invalidate: string[]
  warnings: string[]
}

/** Account secrets for Redis: ciphertext as is, plaintext encrypted — reusing the stored ciphertext when it holds the same value, so importing twice changes nothing. */
function sealAccount(record: Record<string, string>, current: Record<string, string>, file: DataFile, encKey: string): Record<string, string> {
  if (file.secrets === 'encrypted') return record
  const out = { ...record }
  for (const f of ENCRYPTED_ACCOUNT_FIELDS) {
    if (!out[f]) continue
    let same = false
    try {
      same = !!current[f] && decryptSecret(current[f], encKey) === out[f]
    }
    catch { /* stored with another key: replace it */ }
    out[f] = same ? current[f]! : encryptSecret(out[f]!, encKey)
  }
  return out
}

const hasEncrypted = (file: DataFile) => !!file.legacyKeys || file.accounts.some(a => ENCRYPTED_ACCOUNT_FIELDS.some(f => a.record[f]))

/** The CRS secret and hashes of imported keys not used yet (their records came with the keys). */
async function writeLegacyKeys(redis: Redis, file: DataFile, encKey: string): Promise<boolean> {
  const l = file.legacyKeys
  if (!l) return false
  const stored = await redis.get(rk.legacySecret())
  let same = false
  try {
    same = !!stored && decryptSecret(stored, encKey) === (file.secrets === 'plaintext' ? l.secret : decryptSecret(l.secret, encKey))
  }
  catch { /* stored with another key: replace it */ }
  const tx = redis.multi()
  if (!same) tx.set(rk.legacySecret(), file.secrets === 'plaintext' ? encryptSecret(l.secret, encKey) : l.secret)
  if (Object.keys(l.hashes).length) tx.hset(rk.legacyKeyHashes(), l.hashes)
  await tx.exec()
  return true
}

/** Replace API key records, their hash pointers (dropping the pointer of a hash they no longer have), index and search entries. */
async function writeKeys(redis: Redis, keys: DataFile['apiKeys'], now: number): Promise<void> {
  for (const { id, record, indexScore, search } of keys) {
    const old = await redis.hget(rk.apiKey(id), 'hash')
    const stale = old && old !== record.hash && await redis.get(rk.apiKeyHash(old)) === id
    const tx = redis.multi()
    if (stale) tx.del(rk.apiKeyHash(old))
    tx.del(rk.apiKey(id)).hset(rk.apiKey(id), record)
    if (record.hash) tx.set(rk.apiKeyHash(record.hash), id)
    tx.zadd(rk.apiKeyIndex(), indexScore ?? (Date.parse(record.createdAt ?? '') || now), id)
    tx.hset(rk.apiKeySearch(), id, search ?? searchTextOf(record))
    await tx.exec()
  }
}

/** Replace account records (secrets sealed for this installation), index membership, state and session window. */
async function writeAccounts(redis: Redis, file: DataFile, encKey: string): Promise<void> {
  for (const a of file.accounts) {
    const key = rk.account(a.platform, a.id)
    const record = sealAccount(a.record, await redis.hgetall(key), file, encKey)
    const field = `${a.platform}:${a.id}`
    const tx = redis.multi().del(key).hset(key, record).sadd(rk.accountIndex(a.platform), a.id)
    if (a.state) tx.hset(rk.accountStates(), field, a.state)
    else tx.hdel(rk.accountStates(), field)
    if (a.window) tx.hset(rk.accountWindows(), field, a.window)
    else tx.hdel(rk.accountWindows(), field)
    await tx.exec()
  }
}

/** Replace admins; the file wins over another admin holding the same username, and over this admin's old username. */
async function writeAdmins(redis: Redis, admins: DataFile['admins']): Promise<void> {
  for (const { id, record } of admins) {
    const name = record.username ?? ''
    const holder = name ? await redis.get(rk.adminUsername(name)) : null
    const oldName = await redis.hget(rk.admin(id), 'username')
    const oldPointer = oldName && oldName !== name && await redis.get(rk.adminUsername(oldName)) === id
    const tx = redis.multi()
    if (holder && holder !== id) tx.del(rk.admin(holder))
    if (oldPointer) tx.del(rk.adminUsername(oldName))
    tx.del(rk.admin(id)).hset(rk.admin(id), record)
    if (name) tx.set(rk.adminUsername(name), id)
    await tx.exec()
  }
}

/** Replace usage keys whole, each with what is left of its lifetime; returns how many were written and how many had expired. */
async function writeUsage(redis: Redis, file: DataFile, now: number): Promise<{ written: number, expired: number }> {
  let written = 0
  let expired = 0
  const age = Math.max(0, now - (Date.parse(file.exportedAt) || now))
  for (const u of file.usage) {
    // A bucket that would have expired by now is not brought back.
    const ttl = u.ttlMs === null ? null : u.ttlMs - age
    if (ttl !== null && ttl <= 0) {
      expired++
      continue
    }
    const tx = redis.multi().del(u.key)
    if (u.type === 'string') tx.set(u.key, u.value)
    else if (u.type === 'hash' && Object.keys(u.value).length) tx.hset(u.key, u.value)
    else if (u.type === 'set' && u.value.length) tx.sadd(u.key, ...u.value)
    else if (u.type === 'list' && u.value.length) tx.rpush(u.key, ...u.value)
    else if (u.type === 'zset' && u.value.length) tx.zadd(u.key, ...u.value.flatMap(([m, s]) => [s, m]))
    if (ttl !== null) tx.pexpire(u.key, ttl)
    await tx.exec()
    written++
  }
  return { written, expired }
}

/**
 * Write a data file into Redis. Each record in the file replaces the one with the same id (other
 * data stays); usage keys are replaced whole. Idempotent: a second run leaves Redis as the first did.
 */
export async function importData(redis: Redis, file: DataFile, secrets: Secrets, now = Date.now()): Promise<ImportSummary> {
  const warnings: string[] = []
  if (file.secrets === 'encrypted' && hasEncrypted(file) && file.fingerprints.encryptionKey !== fingerprint(secrets.encryptionKey)) {
    throw new CliError('the file\'s account secrets were encrypted with a different ENCRYPTION_KEY: import with the original key, or export again with --decrypt')
  }
  if (file.apiKeys.length && file.fingerprints.apiKeySalt !== fingerprint(secrets.apiKeySalt)) {
    warnings.push('the API keys were hashed with a different API_KEY_SALT: clients\' keys will not authenticate here until API_KEY_SALT is set to the original value')
  }
  await writeKeys(redis, file.apiKeys, now)
  await writeAccounts(redis, file, secrets.encryptionKey)
  await writeAdmins(redis, file.admins)
  const overrides = Object.keys(file.pricingOverrides).length
  if (overrides) await redis.hset(rk.pricingOverride(), file.pricingOverrides)
  if (Object.keys(file.lastUsed).length) await redis.hset(rk.lastUsed(), file.lastUsed)
  const usage = await writeUsage(redis, file, now)
  const legacy = await writeLegacyKeys(redis, file, secrets.encryptionKey)
  const invalidate = [
    ...(legacy ? [invalidation.legacySecret()] : []),
    ...file.apiKeys.map(k => invalidation.apiKey(k.id)), ...file.accounts.map(a => invalidation.account(a.platform, a.id)), ...(overrides ? [invalidation.pricing()] : []),
  ]
  const accounts = { claude: file.accounts.filter(a => a.platform === 'claude').length, gemini: file.accounts.filter(a => a.platform === 'gemini').length }
  return { apiKeys: file.apiKeys.length, accounts, admins: file.admins.length, pricingOverrides: overrides, usageKeys: usage.written, usageExpired: usage.expired, invalidate, warnings }
}
