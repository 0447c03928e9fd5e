import type Redis from 'ioredis'
import type { Platform } from '../accounts/store'
import { decryptSecret } from '../crypto'
import { rk } from '../store/keys'
import { CliError } from './args'
import { DATA_FORMAT, DATA_VERSION, type DataFile, fingerprint, type Secrets, type UsageEntry } from './data-format'
import { ENCRYPTED_ACCOUNT_FIELDS } from './integrity'
import { scanKeys } from './scan'

const PLATFORMS: Platform[] = ['claude', 'gemini']
// Usage buckets and counters (docs/redis-layout.md "Usage"), plus the weekly cost the limits read.
const USAGE_PATTERNS = [rk.usageTotal().replace('total', '*'), rk.weeklyCost('*', '*')]

async function readHashes(redis: Redis, keys: string[]): Promise<Record<string, string>[]> {
  const pipe = redis.pipeline()
  for (const k of keys) pipe.hgetall(k)
  return ((await pipe.exec()) ?? []).map(([, v]) => v as Record<string, string>)
}

const idsUnder = async (redis: Redis, prefix: string) => (await scanKeys(redis, `${prefix}*`)).map(k => k.slice(prefix.length))

async function readUsage(redis: Redis): Promise<UsageEntry[]> {
  const keys = (await Promise.all(USAGE_PATTERNS.map(p => scanKeys(redis, p)))).flat()
  // Two pipelines, whatever the number of keys: kinds and TTLs, then contents.
  const meta = redis.pipeline()
  for (const key of keys) meta.type(key).pttl(key)
  const m = ((await meta.exec()) ?? []).map(([, v]) => v)
  const types = keys.map((_, i) => m[2 * i] as string)
  const read = redis.pipeline()
  types.forEach((type, i) => {
    const key = keys[i]!
    if (type === 'string') read.get(key)
    else if (type === 'hash') read.hgetall(key)
    else if (type === 'set') read.smembers(key)
    else if (type === 'list') read.lrange(key, 0, -1)
    else read.zrange(key, 0, -1, 'WITHSCORES')
  })
  const values = ((await read.exec()) ?? []).map(([, v]) => v)
  const out: UsageEntry[] = []
  keys.forEach((key, i) => {
    const ttl = m[2 * i + 1] as number
    const ttlMs = ttl > 0 ? ttl : null
    const type = types[i]
    const v = values[i]
    if (type === 'string') out.push({ type, key, ttlMs, value: v as string })
    else if (type === 'hash') out.push({ type, key, ttlMs, value: v as Record<string, string> })
    else if (type === 'set') out.push({ type, key, ttlMs, value: (v as string[]).sort() })
    else if (type === 'list') out.push({ type, key, ttlMs, value: v as string[] })
    else if (type === 'zset') {
      const flat = v as string[]
      const pairs: [string, number][] = []
      for (let j = 0; j < flat.length; j += 2) pairs.push([flat[j]!, Number(flat[j + 1])])
      out.push({ type, key, ttlMs, value: pairs })
    }
    // 'none': expired between SCAN and TYPE.
  })
  return out
}

/**
 * Everything that lasts: API keys (and the CRS hashes of imported keys not used yet), accounts of both platforms with their states, admins, price
 * overrides, last-used stamps and usage. Not exported: sessions, locks, rate windows, leases,
 * sticky bindings, pending OAuth authorizations (all short-lived). With `decrypt`, account
 * secrets are written as plaintext (fails when one does not decrypt with the current key).
 */
export async function exportData(redis: Redis, secrets: Secrets, opts: { decrypt: boolean }): Promise<DataFile> {
  const keyIds = await idsUnder(redis, rk.apiKey(''))
  const keyRecords = await readHashes(redis, keyIds.map(rk.apiKey))
  const scorePipe = redis.pipeline()
  for (const id of keyIds) scorePipe.zscore(rk.apiKeyIndex(), id)
  const scores = ((await scorePipe.exec()) ?? []).map(([, v]) => (v === null ? null : Number(v)))
  const search = await redis.hgetall(rk.apiKeySearch())

  const accounts: DataFile['accounts'] = []
  const undecryptable: string[] = []
  const states = await redis.hgetall(rk.accountStates())
  const windows = await redis.hgetall(rk.accountWindows())
  for (const platform of PLATFORMS) {
    const ids = await idsUnder(redis, rk.account(platform, ''))
    const records = await readHashes(redis, ids.map(id => rk.account(platform, id)))
    ids.forEach((id, i) => {
      const record = { ...records[i]! }
      if (opts.decrypt) {
        for (const f of ENCRYPTED_ACCOUNT_FIELDS) {
          if (!record[f]) continue
          try {
            record[f] = decryptSecret(record[f], secrets.encryptionKey)
          }
          catch {
            undecryptable.push(`${platform} account ${id} field ${f}`)
          }
        }
      }
      accounts.push({ platform, id, record, state: states[`${platform}:${id}`] ?? null, window: windows[`${platform}:${id}`] ?? null })
    })
  }
  const legacySecret = await redis.get(rk.legacySecret())
  let legacyKeys: DataFile['legacyKeys'] = null
  if (legacySecret) {
    let secret = legacySecret
    if (opts.decrypt) {
      try {
        secret = decryptSecret(legacySecret, secrets.encryptionKey)
      }
      catch {
        undecryptable.push('the claude-relay-service secret of imported keys')
      }
    }
    legacyKeys = { secret, hashes: await redis.hgetall(rk.legacyKeyHashes()) }
  }
  if (undecryptable.length) throw new CliError(`cannot decrypt with the current ENCRYPTION_KEY: ${undecryptable.join(', ')} (see npm run check:integrity; export without --decrypt to keep them as stored)`)

  const adminIds = (await idsUnder(redis, rk.admin(''))).filter(id => !id.includes(':'))
  const admins = (await readHashes(redis, adminIds.map(rk.admin))).map((record, i) => ({ id: adminIds[i]!, record }))
  return {
    format: DATA_FORMAT,
    version: DATA_VERSION,
    exportedAt: new Date().toISOString(),
    secrets: opts.decrypt ? 'plaintext' : 'encrypted',
    fingerprints: { encryptionKey: fingerprint(secrets.encryptionKey), apiKeySalt: fingerprint(secrets.apiKeySalt) },
    apiKeys: keyIds.map((id, i) => ({ id, record: keyRecords[i]!, indexScore: scores[i] ?? null, search: search[id] ?? null })),
    accounts,
    admins: admins.filter(a => a.record.id),
    pricingOverrides: await redis.hgetall(rk.pricingOverride()),
    lastUsed: await redis.hgetall(rk.lastUsed()),
    usage: await readUsage(redis),
    legacyKeys,
  }
}
