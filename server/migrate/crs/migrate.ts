import type Redis from 'ioredis'
import { accountWrites } from '../../accounts/writes'
import { type Account, getAccount } from '../../accounts/store'
import type { Config } from '../../config'
import { addLegacyHash, saveLegacySecret } from '../../keys/legacy'
import { type ApiKeyRecord, getApiKey, toHash, writeApiKey } from '../../keys/records'
import { invalidation, rk } from '../../store/keys'
import { COUNTER_NAMES, type Counters } from '../../usage/buckets'
import { CRS_ACCOUNT_KINDS, type CrsAccountKind, type ImportedAccount, mapCrsAccount, UNSUPPORTED_PREFIXES } from './accounts'
import { CrsDecryptor } from './crypto'
import { type ImportedKey, mapCrsKey } from './keys'
import type { CrsSource } from './source'
import { bucketTtlSeconds, readCrsUsage, type UsageImport } from './usage'

/** Everything an import would write, read and checked before anything is written. */
export interface CrsPlan {
  keys: ImportedKey[]
  accounts: ImportedAccount[]
  usage: UsageImport
  /** Counts of what was found, per kind (including what will be skipped). */
  found: { apiKeys: number, deletedKeys: number, accounts: Record<CrsAccountKind, number>, unsupported: Record<string, number> }
  /** Everything not carried over as it was, one line each (never a secret). */
  problems: string[]
}

const UUID_TAIL = /^(.*account.*:)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i
/** Most fields per importUsage call (the script's argument list stays small). */
const USAGE_CHUNK = 500

/** Other CRS account kinds present: known unsupported prefixes by name, anything else like `…account…:{uuid}` by its prefix. */
async function findUnsupported(src: CrsSource): Promise<Record<string, number>> {
  const supported = new Set<string>(Object.values(CRS_ACCOUNT_KINDS).map(k => k.prefix))
  const out: Record<string, number> = {}
  for (const key of await src.keys('*account*:*')) {
    const m = UUID_TAIL.exec(key)
    if (!m || supported.has(m[1]!) || m[1]!.startsWith('account_usage')) continue
    const name = UNSUPPORTED_PREFIXES[m[1] as keyof typeof UNSUPPORTED_PREFIXES] ?? m[1]!
    out[name] = (out[name] ?? 0) + 1
  }
  return out
}

/**
 * Read a CRS deployment and work out the import: keys and accounts mapped (account secrets
 * decrypted with `crsSecret` — a wrong one throws WrongCrsKeyError at the first encrypted field),
 * usage history gathered. Reads only.
 */
export async function planCrsImport(src: CrsSource, opts: { crsSecret: string, offsetHours: number, now?: Date }): Promise<CrsPlan> {
  const dec = new CrsDecryptor(opts.crsSecret)
  const problems: string[] = []
  const accounts: ImportedAccount[] = []
  const found: CrsPlan['found'] = { apiKeys: 0, deletedKeys: 0, accounts: { 'claude-oauth': 0, 'claude-console': 0, 'gemini-oauth': 0, 'gemini-api': 0 }, unsupported: {} }
  for (const kind of Object.keys(CRS_ACCOUNT_KINDS) as CrsAccountKind[]) {
    const prefix = CRS_ACCOUNT_KINDS[kind].prefix
    // `{prefix}{id}` only: not the index set or other keys sharing the prefix.
    const keys = (await src.keys(`${prefix}*`)).filter(k => !k.slice(prefix.length).includes(':') && k !== `${prefix}index`)
    for (const h of await src.hgetallMany(keys)) {
      if (!h.id) continue
      found.accounts[kind]++
      const m = mapCrsAccount(kind, h, dec)
      problems.push(...m.problems)
      if (m.kind === 'account') accounts.push(m.account)
    }
  }
  found.unsupported = await findUnsupported(src)
  for (const [name, n] of Object.entries(found.unsupported)) problems.push(`${n} ${name} account(s): this relay has no such upstream, not imported`)

  const keys: ImportedKey[] = []
  const keyNames = (await src.keys('apikey:*')).filter(k => k.split(':').length === 2 && k !== 'apikey:hash_map')
  for (const h of await src.hgetallMany(keyNames)) {
    if (!h.id) continue
    const m = mapCrsKey(h)
    if (m.kind === 'deleted') {
      found.deletedKeys++
      continue
    }
    found.apiKeys++
    problems.push(...m.problems)
    if (m.kind === 'key') keys.push(m.key)
  }
  // A binding to an account that is not coming along would leave the key with nothing to serve it.
  const ids = new Set(accounts.map(a => a.id))
  for (const k of keys) {
    for (const f of ['claudeAccountId', 'geminiAccountId'] as const) {
      const bound = k.settings[f]
      if (bound && !ids.has(bound)) problems.push(`key ${k.id} (${k.settings.name}): bound to account ${bound}, which is not imported — requests for that platform will fail until it is re-bound`)
    }
  }
  const usage = await readCrsUsage(src, new Set(keys.map(k => k.id)), opts.offsetHours, opts.now ?? new Date())
  return { keys, accounts, usage, found, problems }
}

/** What an import changed (a rerun of the same data reports zeros but for usage, which it replaces). */
export interface CrsImportSummary {
  apiKeys: { written: number, unchanged: number }
  accounts: { written: number, unchanged: number, keptTokens: number }
  usage: { buckets: number, fields: number, keyDays: number, olderDays: number }
}

export interface CrsImportDeps {
  redis: Redis
  cfg: Config
  /** Send an invalidation message (running instances drop their copies). */
  publish: (message: string) => Promise<void>
}

const pack = (c: Counters) => COUNTER_NAMES.map(n => String(c[n])).join(',')

/**
 * Write a plan into this relay (REDIS_KEY_PREFIX of `deps.redis`): accounts through
 * accountWrites (announced to running instances), keys with their CRS hash as a legacy hash,
 * usage as a replaceable share of each bucket. Records already there and equal are left alone,
 * and an account the relay holds tokens for keeps them (it may have refreshed them since), so a
 * rerun changes nothing it need not.
 */
export async function applyCrsImport(deps: CrsImportDeps, plan: CrsPlan, crsSecret: string, now = new Date()): Promise<CrsImportSummary> {
  const { redis, cfg } = deps
  const enc = cfg.secrets.encryptionKey
  // First, so a conflicting secret from another CRS stops the import before anything is written.
  await saveLegacySecret(redis, enc, crsSecret)
  const summary: CrsImportSummary = {
    apiKeys: { written: 0, unchanged: 0 }, accounts: { written: 0, unchanged: 0, keptTokens: 0 },
    usage: { buckets: 0, fields: 0, keyDays: plan.usage.keyDays, olderDays: plan.usage.olderDays },
  }

  const writes = { claude: accountWrites('claude', () => deps), gemini: accountWrites('gemini', () => deps) }
  for (const a of plan.accounts) {
    const existing = await getAccount(redis, enc, a.platform, a.id)
    const next: ImportedAccount = { ...a }
    if (existing?.oauth?.refreshToken && a.oauth) {
      next.oauth = existing.oauth
      next.projectId = existing.projectId ?? a.projectId
      summary.accounts.keptTokens++
    }
    if (existing && sameAccount(existing, next)) {
      summary.accounts.unchanged++
      continue
    }
    await writes[a.platform].put(next)
    summary.accounts.written++
  }

  for (const k of plan.keys) {
    const existing = await getApiKey(redis, k.id)
    const record: ApiKeyRecord = {
      ...k.settings, id: k.id, createdAt: k.createdAt, updatedAt: now.toISOString(),
      lastUsedAt: null, activatedAt: existing?.activatedAt ?? k.activatedAt,
      // A key already used here was re-hashed on first use: its own hash stays, no legacy hash comes back.
      hash: existing?.hash ?? '',
    }
    if (existing && sameKey(existing, record)) {
      summary.apiKeys.unchanged++
      continue
    }
    const tx = redis.multi().del(rk.apiKey(k.id))
    writeApiKey(tx, record)
    if (!record.hash) addLegacyHash(tx, k.crsHash, k.id)
    if (k.lastUsedAt) tx.hsetnx(rk.lastUsed(), `k:${k.id}`, k.lastUsedAt)
    await tx.exec()
    await deps.publish(invalidation.apiKey(k.id))
    summary.apiKeys.written++
  }

  for (const [name, fields] of plan.usage.buckets) {
    const [kind, id] = name.split(':') as ['day' | 'month' | 'total', string]
    const bucket = kind === 'total' ? rk.usageTotal() : rk.usageBucket(kind, id)
    const pairs = [...fields].flatMap(([f, c]) => [f, pack(c)])
    for (let i = 0; i < pairs.length; i += USAGE_CHUNK * 2) {
      await redis.importUsage(bucket, rk.crsImported(bucket), bucketTtlSeconds(name, now), ...pairs.slice(i, i + USAGE_CHUNK * 2))
    }
    summary.usage.buckets++
    summary.usage.fields += fields.size
  }
  const models = new Set<string>()
  for (const [keyId, set] of plan.usage.keyModels) {
    if (set.size) await redis.sadd(rk.usageKeyModels(keyId), ...set)
    for (const m of set) models.add(m)
  }
  if (models.size) await redis.sadd(rk.usageModels(), ...models)
  return summary
}

/** Equal in everything a write would store but its timestamps. */
function sameAccount(stored: Account, next: ImportedAccount): boolean {
  return (Object.keys(next) as (keyof ImportedAccount)[])
    .every(f => f === 'createdAt' || f === 'updatedAt' || JSON.stringify(stored[f]) === JSON.stringify(next[f]))
}

/** Equal in everything but updatedAt (the stored hash is the comparison: what a write would change). */
function sameKey(a: ApiKeyRecord, b: ApiKeyRecord): boolean {
  const x = toHash({ ...a, updatedAt: '' })
  const y = toHash({ ...b, updatedAt: '' })
  return Object.keys(y).every(f => x[f] === y[f])
}
