import { randomUUID } from 'node:crypto'
import type Redis from 'ioredis'
import { decryptSecret, encryptSecret } from '../crypto'
import { rk } from '../store/keys'
import { redactProxyUrl } from '../upstream/dispatchers'
import { type AccountStateRecord, effectiveState, readStates } from './state'

/**
 * A Claude account as the relay uses it, secrets decrypted (in memory only). The OAuth type
 * arrives with the Claude OAuth issue; the record shape already carries `type` for it.
 */
export interface ClaudeAccount {
  id: string
  platform: 'claude'
  type: 'console'
  name: string
  description: string
  apiUrl: string
  apiKey: string
  priority: number
  isActive: boolean
  proxy: string | null
  createdAt: string
  updatedAt: string
  lastUsedAt: string | null
  /** Runtime state (rate limited, overloaded, …), from the account_state hash. */
  state?: AccountStateRecord
}

export type ClaudeAccountInput = Pick<ClaudeAccount, 'name' | 'apiUrl' | 'apiKey'>
  & Partial<Pick<ClaudeAccount, 'description' | 'priority' | 'isActive' | 'proxy'>>

/** What admins see: never the key, the proxy without its password. */
export function toAccountView(a: ClaudeAccount) {
  const { apiKey, proxy, state, ...rest } = a
  return { ...rest, proxy: redactProxyUrl(proxy), apiKeyPreview: `${apiKey.slice(0, 7)}…${apiKey.slice(-4)}`, status: effectiveState(state) }
}

function toHash(a: ClaudeAccount, encKey: string): Record<string, string> {
  return {
    id: a.id, platform: a.platform, type: a.type, name: a.name, description: a.description, apiUrl: a.apiUrl,
    apiKey: encryptSecret(a.apiKey, encKey), priority: String(a.priority), isActive: a.isActive ? '1' : '0',
    proxy: a.proxy ? encryptSecret(a.proxy, encKey) : '', createdAt: a.createdAt, updatedAt: a.updatedAt,
  }
}

function fromHash(h: Record<string, string>, encKey: string): ClaudeAccount | null {
  if (!h.id) return null
  return {
    id: h.id, platform: 'claude', type: 'console', name: h.name ?? '', description: h.description ?? '',
    apiUrl: h.apiUrl ?? '', apiKey: h.apiKey ? decryptSecret(h.apiKey, encKey) : '',
    priority: Number(h.priority ?? 50), isActive: h.isActive === '1',
    proxy: h.proxy ? decryptSecret(h.proxy, encKey) : null, createdAt: h.createdAt ?? '',
    updatedAt: h.updatedAt ?? '', lastUsedAt: null,
  }
}

/** Create a Console account (its API key and proxy are encrypted at rest). */
export async function createClaudeAccount(redis: Redis, encKey: string, input: ClaudeAccountInput): Promise<ClaudeAccount> {
  const now = new Date().toISOString()
  const account: ClaudeAccount = {
    id: randomUUID(), platform: 'claude', type: 'console', description: '', priority: 50, isActive: true,
    proxy: null, ...input, createdAt: now, updatedAt: now, lastUsedAt: null,
  }
  await redis.multi()
    .hset(rk.claudeAccount(account.id), toHash(account, encKey))
    .sadd(rk.claudeAccountIndex(), account.id)
    .exec()
  return account
}

export async function getClaudeAccount(redis: Redis, encKey: string, id: string): Promise<ClaudeAccount | null> {
  const rows = await redis.pipeline().hgetall(rk.claudeAccount(id)).hget(rk.lastUsed(), `a:${id}`).exec()
  const account = fromHash((rows?.[0]?.[1] ?? {}) as Record<string, string>, encKey)
  if (account) {
    account.lastUsedAt = (rows?.[1]?.[1] as string | null) ?? null
    account.state = (await readStates(redis, 'claude')).get(id)
  }
  return account
}

/** Every Claude account, one round trip for the index and one pipeline for the records. */
export async function listClaudeAccounts(redis: Redis, encKey: string): Promise<ClaudeAccount[]> {
  const ids = await redis.smembers(rk.claudeAccountIndex())
  if (ids.length === 0) return []
  const pipe = redis.pipeline()
  for (const id of ids) pipe.hgetall(rk.claudeAccount(id))
  pipe.hmget(rk.lastUsed(), ...ids.map(id => `a:${id}`))
  const [rows, states] = await Promise.all([pipe.exec(), readStates(redis, 'claude')])
  const lastUsed = rows?.pop()?.[1] as (string | null)[]
  return (rows ?? [])
    .map(([, h], i) => {
      const a = fromHash(h as Record<string, string>, encKey)
      if (a) {
        a.lastUsedAt = lastUsed[i] ?? null
        a.state = states.get(a.id)
      }
      return a
    })
    .filter((a): a is ClaudeAccount => a !== null)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
}

export async function updateClaudeAccount(redis: Redis, encKey: string, id: string, patch: Partial<ClaudeAccountInput>): Promise<ClaudeAccount | null> {
  const current = await getClaudeAccount(redis, encKey, id)
  if (!current) return null
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined))
  const next: ClaudeAccount = { ...current, ...defined, updatedAt: new Date().toISOString() }
  await redis.hset(rk.claudeAccount(id), toHash(next, encKey))
  return next
}

export async function deleteClaudeAccount(redis: Redis, id: string): Promise<boolean> {
  const [[, deleted] = []] = (await redis.multi().del(rk.claudeAccount(id)).srem(rk.claudeAccountIndex(), id)
    .hdel(rk.lastUsed(), `a:${id}`).hdel(rk.accountStates(), `claude:${id}`).exec()) ?? []
  return deleted === 1
}
