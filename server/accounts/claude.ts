import { randomUUID } from 'node:crypto'
import type Redis from 'ioredis'
import { decryptSecret, encryptSecret } from '../crypto'
import { rk } from '../store/keys'
import { redactProxyUrl } from '../upstream/proxy-url'
import { type AccountStateRecord, effectiveState, readStates, readWindows, type SessionWindow } from './state'

/** OAuth tokens of a subscription account (decrypted in memory only) and what the provider told us. */
export interface ClaudeOAuth {
  accessToken: string
  refreshToken: string
  /** ms since the epoch; 0 = unknown (refreshed before first use). */
  expiresAt: number
  scopes: string[]
  email: string | null
  organization: string | null
}

/**
 * A Claude account as the relay uses it, secrets decrypted (in memory only): `console` carries an
 * Anthropic API key, `oauth` a Claude subscription's tokens. An empty `apiUrl` means CLAUDE_API_URL.
 */
export interface ClaudeAccount {
  id: string
  platform: 'claude'
  type: 'console' | 'oauth'
  name: string
  description: string
  apiUrl: string
  apiKey: string
  oauth: ClaudeOAuth | null
  priority: number
  isActive: boolean
  /** `shared`: in the pool every key draws from; `dedicated`: only keys bound to it use it. */
  accountType: 'shared' | 'dedicated'
  proxy: string | null
  createdAt: string
  updatedAt: string
  lastUsedAt: string | null
  /** Runtime state (rate limited, overloaded, …), from the account_state hash. */
  state?: AccountStateRecord
  /** The 5-hour session window last reported by Anthropic (subscription accounts). */
  sessionWindow?: SessionWindow
}

export type ClaudeAccountInput = Pick<ClaudeAccount, 'name'>
  & Partial<Pick<ClaudeAccount, 'type' | 'apiUrl' | 'apiKey' | 'oauth' | 'description' | 'priority' | 'isActive' | 'accountType' | 'proxy'>>

/** What admins see: never a key or token, the proxy without its password. */
export function toAccountView(a: ClaudeAccount) {
  const { apiKey, proxy, state, oauth, sessionWindow, ...rest } = a
  return {
    ...rest,
    proxy: redactProxyUrl(proxy),
    apiKeyPreview: a.type === 'console' ? `${apiKey.slice(0, 7)}…${apiKey.slice(-4)}` : null,
    oauth: oauth
      ? { expiresAt: oauth.expiresAt ? new Date(oauth.expiresAt).toISOString() : null, scopes: oauth.scopes, email: oauth.email, organization: oauth.organization }
      : null,
    status: effectiveState(state),
    sessionWindow: sessionWindow ?? null,
  }
}

const enc = (v: string | undefined | null, key: string) => (v ? encryptSecret(v, key) : '')
const dec = (v: string | undefined, key: string) => (v ? decryptSecret(v, key) : '')

function toHash(a: ClaudeAccount, encKey: string): Record<string, string> {
  return {
    id: a.id, platform: a.platform, type: a.type, name: a.name, description: a.description, apiUrl: a.apiUrl,
    apiKey: enc(a.apiKey, encKey), priority: String(a.priority), isActive: a.isActive ? '1' : '0', accountType: a.accountType,
    proxy: enc(a.proxy, encKey), createdAt: a.createdAt, updatedAt: a.updatedAt,
    ...(a.oauth ? oauthFields(a.oauth, encKey) : {}),
  }
}

/** The hash fields of an account's OAuth tokens (tokens encrypted). */
export function oauthFields(o: ClaudeOAuth, encKey: string): Record<string, string> {
  return {
    accessToken: enc(o.accessToken, encKey), refreshToken: enc(o.refreshToken, encKey), tokenExpiresAt: String(o.expiresAt),
    scopes: JSON.stringify(o.scopes), email: o.email ?? '', organization: o.organization ?? '',
  }
}

function fromHash(h: Record<string, string>, encKey: string): ClaudeAccount | null {
  if (!h.id) return null
  const type = h.type === 'oauth' ? 'oauth' : 'console'
  return {
    id: h.id, platform: 'claude', type, name: h.name ?? '', description: h.description ?? '',
    apiUrl: h.apiUrl ?? '', apiKey: dec(h.apiKey, encKey),
    oauth: type === 'oauth'
      ? {
          accessToken: dec(h.accessToken, encKey), refreshToken: dec(h.refreshToken, encKey), expiresAt: Number(h.tokenExpiresAt) || 0,
          scopes: safeList(h.scopes), email: h.email || null, organization: h.organization || null,
        }
      : null,
    priority: Number(h.priority ?? 50), isActive: h.isActive === '1', accountType: h.accountType === 'dedicated' ? 'dedicated' : 'shared',
    proxy: dec(h.proxy, encKey) || null, createdAt: h.createdAt ?? '',
    updatedAt: h.updatedAt ?? '', lastUsedAt: null,
  }
}

function safeList(raw: string | undefined): string[] {
  try {
    const v = JSON.parse(raw ?? '[]')
    return Array.isArray(v) ? v.map(String) : []
  }
  catch {
    return []
  }
}

/** Store new tokens of an OAuth account (after a refresh). */
export async function saveOAuthTokens(redis: Redis, encKey: string, id: string, o: ClaudeOAuth): Promise<void> {
  await redis.hset(rk.claudeAccount(id), { ...oauthFields(o, encKey), updatedAt: new Date().toISOString() })
}

/** Create an account (its API key, tokens and proxy are encrypted at rest). */
export async function createClaudeAccount(redis: Redis, encKey: string, input: ClaudeAccountInput): Promise<ClaudeAccount> {
  const now = new Date().toISOString()
  const account: ClaudeAccount = {
    id: randomUUID(), platform: 'claude', type: 'console', description: '', priority: 50, isActive: true,
    accountType: 'shared', proxy: null, apiUrl: '', apiKey: '', oauth: null,
    // Fields the caller left undefined keep these defaults.
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as ClaudeAccountInput,
    createdAt: now, updatedAt: now, lastUsedAt: null,
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
    account.sessionWindow = (await readWindows(redis, 'claude')).get(id)
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
  const [rows, states, windows] = await Promise.all([pipe.exec(), readStates(redis, 'claude'), readWindows(redis, 'claude')])
  const lastUsed = rows?.pop()?.[1] as (string | null)[]
  return (rows ?? [])
    .map(([, h], i) => {
      const a = fromHash(h as Record<string, string>, encKey)
      if (a) {
        a.lastUsedAt = lastUsed[i] ?? null
        a.state = states.get(a.id)
        a.sessionWindow = windows.get(a.id)
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
