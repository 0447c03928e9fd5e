import type Redis from 'ioredis'
import type { Platform } from '../accounts/store'
import { decryptSecret } from '../crypto'
import { fromHash, searchText } from '../keys/records'
import { invalidation, rk } from '../store/keys'
import { scanKeys } from './scan'

/** One thing wrong in Redis; `fix` is set when the repair is safe (loses nothing that still means something). */
export interface Problem {
  check: 'api-key' | 'account' | 'orphan' | 'ttl' | 'admin' | 'secrets'
  key: string
  message: string
  fix?: { describe: string, apply: (redis: Redis) => Promise<unknown>, invalidate?: string }
}

type Fix = NonNullable<Problem['fix']>
const setFix = (describe: string, apply: Fix['apply'], invalidate?: string): Fix => ({ describe, apply, invalidate })
const del = (key: string, invalidate?: string) => setFix(`deleted ${key}`, r => r.del(key), invalidate)

const PLATFORMS: Platform[] = ['claude', 'gemini']
/** Account hash fields stored encrypted (server/accounts/store.ts). */
export const ENCRYPTED_ACCOUNT_FIELDS = ['apiKey', 'proxy', 'accessToken', 'refreshToken'] as const

// Key-name prefixes, from the one place names are built.
const P = {
  apiKey: rk.apiKey(''), apiKeyHash: rk.apiKeyHash(''), recent: rk.usageRecent(''), keyModels: rk.usageKeyModels(''),
  rate: rk.rateWindow(''), lease: rk.leases(''), adminUsername: rk.adminUsername(''), admin: rk.admin(''),
}
/** Keys that must expire, and how to repair one that does not. */
const MUST_EXPIRE = [
  { prefix: rk.session(''), what: 'admin session' },
  { prefix: rk.adminSessions(''), what: 'admin session index' },
  { prefix: rk.oauthSession(''), what: 'pending OAuth authorization' },
  { prefix: rk.oauthLock(''), what: 'token-refresh lock (blocks refreshes of its account)' },
  { prefix: rk.loginFailures('ip', ''), what: 'login-failure counter' },
  { prefix: rk.loginFailures('ip_user', ''), what: 'login-failure counter' },
  { prefix: rk.usageSessions(''), what: 'prompt-cache session ledger' },
  { prefix: rk.instance(''), what: 'instance alive key (a dead instance\'s requests are never counted lost while it stays)' },
]

const withPrefix = (keys: string[], prefix: string) => keys.filter(k => k.startsWith(prefix)).map(k => k.slice(prefix.length))

async function hashes(redis: Redis, keys: string[]): Promise<Record<string, string>[]> {
  const pipe = redis.pipeline()
  for (const k of keys) pipe.hgetall(k)
  return ((await pipe.exec()) ?? []).map(([err, v]) => (err ? {} : v as Record<string, string>))
}

/** An API key's `api_key_search` entry from its stored hash (the server's own builder). */
export const searchTextOf = (h: Record<string, string>) => {
  const r = fromHash(h)
  return r ? searchText(r) : ''
}

/**
 * API keys: record ↔ `api_key_hash:*` pointer ↔ `api_key_index` ↔ `api_key_search`. A record
 * without a hash is fine while a legacy hash names it (`legacyIds`: imported, not used yet).
 * Returns each record's id → hash field.
 */
async function checkApiKeys(redis: Redis, all: string[], legacyIds: Set<string>, out: Problem[]): Promise<Map<string, string>> {
  const ids = withPrefix(all, P.apiKey)
  const records = new Map(ids.map((id, i) => [id, i] as const))
  const recs = await hashes(redis, ids.map(rk.apiKey))
  const ptrHashes = withPrefix(all, P.apiKeyHash)
  const ptrTargets = ptrHashes.length ? await redis.mget(...ptrHashes.map(rk.apiKeyHash)) : []
  const ptrs = new Map(ptrHashes.map((h, i) => [h, ptrTargets[i] ?? ''] as const))
  const index = new Set(await redis.zrange(rk.apiKeyIndex(), 0, -1))
  const search = await redis.hgetall(rk.apiKeySearch())
  const claimedBy = new Map(ids.map((id, i) => [recs[i]!.hash ?? '', id] as const))

  const add = (key: string, message: string, fix?: Fix) => out.push({ check: 'api-key', key, message, fix })
  for (const [hash, target] of ptrs) {
    const rec = records.has(target) ? recs[records.get(target)!]! : null
    const key = rk.apiKeyHash(hash)
    if (!rec) add(key, `points at API key ${target || '(empty)'}, which does not exist`, del(key, invalidation.apiKey(target)))
    // A pointer another record claims is reported (and repaired) from that record's side below.
    else if (rec.hash !== hash && !claimedBy.has(hash)) add(key, `points at API key ${target}, whose hash is different (a stale pointer)`, del(key, invalidation.apiKey(target)))
  }
  ids.forEach((id, i) => {
    const h = recs[i]!
    const key = rk.apiKey(id)
    if (h.id !== id) return add(key, `record is damaged (its id field is ${h.id ? `"${h.id}"` : 'missing'})`)
    const ptr = h.hash ? rk.apiKeyHash(h.hash) : ''
    const pointsAt = h.hash ? ptrs.get(h.hash) : undefined
    if (!h.hash) {
      if (!legacyIds.has(id)) add(key, 'record has no hash field: no client key can authenticate as it')
    }
    else if (pointsAt === undefined) add(key, `its pointer ${ptr} is missing: clients using the key get 401`, setFix(`re-created ${ptr}`, r => r.set(ptr, id, 'NX'), invalidation.apiKey(id)))
    else if (pointsAt !== id) {
      // Repairable when the other key's record does not hold this hash (or is gone): the pointer is stale.
      const stale = !records.has(pointsAt) || recs[records.get(pointsAt)!]!.hash !== h.hash
      add(key, `its pointer ${ptr} names API key ${pointsAt} instead`, stale ? setFix(`pointed ${ptr} at ${id}`, r => r.set(ptr, id), invalidation.apiKey(id)) : undefined)
    }
    if (!index.has(id)) add(key, `missing from ${rk.apiKeyIndex()}: admin lists do not show it`, setFix(`added ${id} to ${rk.apiKeyIndex()}`, r => r.zadd(rk.apiKeyIndex(), Date.parse(h.createdAt ?? '') || Date.now(), id)))
    if (search[id] === undefined) add(key, `missing from ${rk.apiKeySearch()}: searches do not find it`, setFix(`added ${id} to ${rk.apiKeySearch()}`, r => r.hset(rk.apiKeySearch(), id, searchTextOf(h))))
  })
  for (const id of index) {
    if (!records.has(id)) add(rk.apiKeyIndex(), `lists ${id}, which has no record`, setFix(`removed ${id} from ${rk.apiKeyIndex()}`, r => r.zrem(rk.apiKeyIndex(), id)))
  }
  for (const id of Object.keys(search)) {
    if (!records.has(id)) add(rk.apiKeySearch(), `has an entry for ${id}, which has no record`, setFix(`removed ${id} from ${rk.apiKeySearch()}`, r => r.hdel(rk.apiKeySearch(), id)))
  }
  return new Map(ids.map((id, i) => [id, recs[i]!.hash ?? ''] as const))
}

/**
 * Keys imported from claude-relay-service: each legacy hash names a key still waiting for its
 * HMAC (server/keys/legacy.ts), and the CRS secret the lookup needs decrypts.
 */
async function checkLegacy(redis: Redis, legacy: Record<string, string>, keys: ReadonlyMap<string, string>, encKey: string, out: Problem[]): Promise<void> {
  const H = rk.legacyKeyHashes()
  const drop = (crsHash: string) => setFix(`removed legacy hash ${crsHash} from ${H}`, r => r.hdel(H, crsHash))
  for (const [crsHash, id] of Object.entries(legacy)) {
    if (!keys.has(id)) out.push({ check: 'orphan', key: H, message: `legacy hash ${crsHash} names API key ${id}, which no longer exists`, fix: drop(crsHash) })
    else if (keys.get(id)) out.push({ check: 'orphan', key: H, message: `legacy hash ${crsHash} of API key ${id}, which has its own hash already (never looked up)`, fix: drop(crsHash) })
  }
  const remaining = Object.keys(legacy).length
  const secretKey = rk.legacySecret()
  const sealed = await redis.get(secretKey)
  if (!sealed && remaining) out.push({ check: 'api-key', key: secretKey, message: `missing: the ${remaining} key(s) imported from claude-relay-service cannot authenticate; run the migration again with its ENCRYPTION_KEY` })
  if (!sealed) return
  try {
    decryptSecret(sealed, encKey)
  }
  catch {
    // Only the migration (with the CRS ENCRYPTION_KEY) can store it again; with no legacy hash left it is not needed.
    out.push({ check: 'api-key', key: secretKey, message: 'does not decrypt with the current ENCRYPTION_KEY: keys imported from claude-relay-service cannot authenticate; run the migration again', fix: remaining ? undefined : del(secretKey) })
  }
}

/** Accounts: record ↔ index set, and every encrypted field decrypts with the current key. */
async function checkAccounts(redis: Redis, all: string[], encKey: string, out: Problem[]): Promise<Map<Platform, Set<string>>> {
  const byPlatform = new Map<Platform, Set<string>>()
  const add = (key: string, message: string, fix?: Fix) => out.push({ check: 'account', key, message, fix })
  for (const platform of PLATFORMS) {
    const ids = withPrefix(all, rk.account(platform, ''))
    const known = new Set(ids)
    byPlatform.set(platform, known)
    const recs = await hashes(redis, ids.map(id => rk.account(platform, id)))
    const index = new Set(await redis.smembers(rk.accountIndex(platform)))
    ids.forEach((id, i) => {
      const key = rk.account(platform, id)
      const h = recs[i]!
      if (!index.has(id)) add(key, `missing from ${rk.accountIndex(platform)}: the scheduler never uses it`, setFix(`added ${id} to ${rk.accountIndex(platform)}`, r => r.sadd(rk.accountIndex(platform), id), invalidation.account(platform, id)))
      for (const field of ENCRYPTED_ACCOUNT_FIELDS) {
        if (!h[field]) continue
        try {
          decryptSecret(h[field], encKey)
        }
        catch {
          // Not repairable here: only the original ENCRYPTION_KEY or re-entering the secret helps.
          add(key, `${platform} account "${h.name ?? id}": field ${field} does not decrypt with the current ENCRYPTION_KEY (encrypted with another key, or damaged); re-enter it in the admin UI or restore the original key`)
        }
      }
    })
    for (const id of index) {
      if (!known.has(id)) add(rk.accountIndex(platform), `lists ${id}, which has no record`, setFix(`removed ${id} from ${rk.accountIndex(platform)}`, r => r.srem(rk.accountIndex(platform), id)))
    }
  }
  return byPlatform
}

/** Data kept per key or account that outlived it. */
async function checkOrphans(redis: Redis, all: string[], keyIds: ReadonlyMap<string, string>, accounts: Map<Platform, Set<string>>, out: Problem[]): Promise<void> {
  const add = (key: string, message: string, fix: Fix) => out.push({ check: 'orphan', key, message, fix })
  for (const [prefix, what] of [[P.recent, 'recent-requests list'], [P.keyModels, 'model set'], [P.rate, 'rate window'], [P.lease, 'concurrency leases']] as const) {
    for (const id of withPrefix(all, prefix)) {
      if (!keyIds.has(id)) add(prefix + id, `${what} of API key ${id}, which no longer exists`, del(prefix + id))
    }
  }
  const anyAccount = (id: string) => [...accounts.values()].some(s => s.has(id))
  for (const f of await redis.hkeys(rk.lastUsed())) {
    const gone = f.startsWith('k:') ? !keyIds.has(f.slice(2)) : f.startsWith('a:') ? !anyAccount(f.slice(2)) : false
    if (gone) add(rk.lastUsed(), `field ${f} belongs to a deleted ${f[0] === 'k' ? 'API key' : 'account'}`, setFix(`removed ${f} from ${rk.lastUsed()}`, r => r.hdel(rk.lastUsed(), f)))
  }
  for (const hash of [rk.accountStates(), rk.accountWindows()]) {
    for (const f of await redis.hkeys(hash)) {
      const [platform, id = ''] = f.split(/:(.*)/s) as [Platform, string?]
      if (!accounts.get(platform)?.has(id)) add(hash, `field ${f} belongs to an account that does not exist`, setFix(`removed ${f} from ${hash}`, r => r.hdel(hash, f)))
    }
  }
}

/** Admins: `admin_username:{name}` ↔ `admin:{id}`. */
async function checkAdmins(redis: Redis, all: string[], out: Problem[]): Promise<void> {
  const names = withPrefix(all, P.adminUsername)
  const ids = withPrefix(all, P.admin).filter(id => !id.includes(':'))
  const targets = names.length ? await redis.mget(...names.map(rk.adminUsername)) : []
  const recs = await hashes(redis, ids.map(rk.admin))
  const nameOf = new Map(ids.map((id, i) => [id, recs[i]!.username] as const))
  const add = (key: string, message: string, fix?: Fix) => out.push({ check: 'admin', key, message, fix })
  names.forEach((name, i) => {
    const id = targets[i] ?? ''
    const key = rk.adminUsername(name)
    if (nameOf.get(id) !== name) add(key, `points at admin ${id || '(empty)'}, which does not exist or has another username`, del(key))
  })
  ids.forEach((id, i) => {
    const name = recs[i]!.username
    const key = rk.admin(id)
    if (!name || !recs[i]!.passwordHash) add(key, 'record is damaged (no username or password hash)')
    else if (!names.includes(name)) add(key, `admin "${name}" cannot log in: ${rk.adminUsername(name)} is missing`, setFix(`re-created ${rk.adminUsername(name)}`, r => r.set(rk.adminUsername(name), id, 'NX')))
  })
}

/** Keys that should expire but have no TTL (a crashed writer, a hand edit). */
async function checkTtls(redis: Redis, all: string[], sessionSeconds: number, out: Problem[]): Promise<void> {
  const candidates = all.filter(k => MUST_EXPIRE.some(m => k.startsWith(m.prefix)))
  if (candidates.length === 0) return
  const pipe = redis.pipeline()
  for (const k of candidates) pipe.pttl(k)
  const ttls = ((await pipe.exec()) ?? []).map(([, v]) => v as number)
  candidates.forEach((key, i) => {
    if (ttls[i] !== -1) return
    const { what, prefix } = MUST_EXPIRE.find(m => key.startsWith(m.prefix))!
    // A session (and its admin's index) keeps working for one more lifetime; anything else is stale and goes.
    const fix = prefix === rk.session('') || prefix === rk.adminSessions('') ? setFix(`set ${key} to expire in ${sessionSeconds} s`, r => r.expire(key, sessionSeconds)) : del(key)
    out.push({ check: 'ttl', key, message: `${what} without an expiry`, fix })
  })
}

/** Every data problem under the prefix (one SCAN of the prefix, then pipelined reads). */
export async function checkData(redis: Redis, opts: { encryptionKey: string, sessionSeconds: number }): Promise<Problem[]> {
  const all = await scanKeys(redis, '*')
  const out: Problem[] = []
  const legacy = await redis.hgetall(rk.legacyKeyHashes())
  const keyIds = await checkApiKeys(redis, all, new Set(Object.values(legacy)), out)
  await checkLegacy(redis, legacy, keyIds, opts.encryptionKey, out)
  const accounts = await checkAccounts(redis, all, opts.encryptionKey, out)
  await checkOrphans(redis, all, keyIds, accounts, out)
  await checkAdmins(redis, all, out)
  await checkTtls(redis, all, opts.sessionSeconds, out)
  return out
}
