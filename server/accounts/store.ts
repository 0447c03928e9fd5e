import { randomUUID } from 'node:crypto'
import type Redis from 'ioredis'
import { decryptSecret, encryptSecret } from '../crypto'
import { rk } from '../store/keys'
import { redactProxyUrl } from '../upstream/proxy-url'
import { type Headroom, readHeadroom, readUsagePolls, type UsagePoll } from './headroom'
import { type AccountStateRecord, effectiveState, readStates, readWindows, type SessionWindow } from './state'

/** The platforms whose accounts the relay pools. */
export type Platform = 'claude' | 'gemini'

/**
 * Which clients a Claude account serves: Anthropic accepts a subscription (OAuth) token only from
 * Claude Code itself, so OAuth accounts default to `claude-code`; Console API keys to `any`.
 */
export type AccountClients = 'claude-code' | 'any'
export const ACCOUNT_CLIENTS: readonly AccountClients[] = ['claude-code', 'any']

/** The default of an account stored without the setting (read-time default: no migration); Gemini accounts serve any client. */
export const defaultClients = (platform: Platform, type: Account['type']): AccountClients => (platform === 'claude' && isSubscription({ type }) ? 'claude-code' : 'any')

/** A subscription (Pro/Max) account: authorised by an OAuth access token, refreshed (`oauth`) or long-lived (`setup-token`). */
export const isSubscription = (a: Pick<Account, 'type'>) => a.type === 'oauth' || a.type === 'setup-token'

/** A setup token is warned about this long before it expires. */
export const SETUP_TOKEN_WARN_MS = 14 * 24 * 3600_000

/** OAuth tokens of a subscription account (decrypted in memory only) and what the provider told us. */
export interface AccountOAuth {
  accessToken: string
  /** '' for a setup token (never refreshed). */
  refreshToken: string
  /** ms since the epoch; 0 = unknown (an `oauth` account refreshes before first use; a setup token is used as is). */
  expiresAt: number
  scopes: string[]
  email: string | null
  organization: string | null
}

/**
 * An upstream account as the relay uses it, secrets decrypted (in memory only). Claude: `console`
 * carries an Anthropic API key, `oauth` a subscription's tokens (refreshed), `setup-token` the
 * long-lived access token of `claude setup-token` (inference scope only, no refresh token: never
 * refreshed, replaced by an admin before it expires); an empty `apiUrl` means
 * CLAUDE_API_URL. Gemini: `api-key` carries a Gemini API key (`apiUrl` empty = GEMINI_API_URL),
 * `oauth` Google tokens used with Code Assist in `projectId` (discovered when null).
 */
export interface Account {
  id: string
  platform: Platform
  type: 'console' | 'oauth' | 'setup-token' | 'api-key'
  name: string
  description: string
  apiUrl: string
  apiKey: string
  oauth: AccountOAuth | null
  /** Gemini Code Assist project (given, or discovered and cached). */
  projectId: string | null
  priority: number
  isActive: boolean
  /** `shared`: in the pool every key draws from; `dedicated`: only keys bound to it use it. */
  accountType: 'shared' | 'dedicated'
  /** Claude: which clients it serves (Gemini accounts: always `any`, never stored). */
  clients: AccountClients
  proxy: string | null
  createdAt: string
  updatedAt: string
  lastUsedAt: string | null
  /** Runtime state (rate limited, overloaded, …), from the account_state hash. */
  state?: AccountStateRecord
  /** The 5-hour session window last reported by Anthropic (subscription accounts). */
  sessionWindow?: SessionWindow
  /** Subscription headroom last seen (server/accounts/headroom.ts; read it with `headroomOf`). */
  headroom?: Headroom
  /** The usage endpoint's poll schedule of this account (subscription accounts). */
  usagePoll?: UsagePoll
}

export type AccountInput = Pick<Account, 'name'>
  & Partial<Pick<Account, 'type' | 'apiUrl' | 'apiKey' | 'oauth' | 'projectId' | 'description' | 'priority' | 'isActive' | 'accountType' | 'proxy' | 'clients'>>

// The names the Claude code grew up with.
export type ClaudeAccount = Account
export type ClaudeOAuth = AccountOAuth
export type ClaudeAccountInput = AccountInput

/** What admins see: never a key or token, the proxy without its password. */
export function toAccountView(a: Account) {
  const { apiKey, proxy, state, oauth, sessionWindow, headroom, usagePoll, projectId, apiUrl, clients, ...rest } = a
  const expiresAt = oauth?.expiresAt || null
  return {
    ...rest,
    // Gemini calls its endpoint baseUrl and has a Code Assist project; Claude has neither, but a clients setting.
    ...(a.platform === 'gemini' ? { baseUrl: apiUrl, projectId } : { apiUrl, clients }),
    proxy: redactProxyUrl(proxy),
    apiKeyPreview: apiKey ? `${apiKey.slice(0, 7)}…${apiKey.slice(-4)}` : null,
    oauth: oauth
      ? { expiresAt: expiresAt ? new Date(expiresAt).toISOString() : null, scopes: oauth.scopes, email: oauth.email, organization: oauth.organization }
      : null,
    // A setup token is never refreshed: the admin replaces it, warned SETUP_TOKEN_WARN_MS ahead.
    expiresSoon: a.type === 'setup-token' && !!expiresAt && expiresAt - Date.now() < SETUP_TOKEN_WARN_MS,
    status: effectiveState(state),
    sessionWindow: sessionWindow ?? null,
    headroom: headroom ?? null,
    usageEndpoint: usagePoll ? { outcome: usagePoll.outcome, at: new Date(usagePoll.at).toISOString(), nextAt: new Date(usagePoll.nextAt).toISOString() } : null,
  }
}

const enc = (v: string | undefined | null, key: string) => (v ? encryptSecret(v, key) : '')
const dec = (v: string | undefined, key: string) => (v ? decryptSecret(v, key) : '')

function toHash(a: Account, encKey: string): Record<string, string> {
  return {
    id: a.id, platform: a.platform, type: a.type, name: a.name, description: a.description, apiUrl: a.apiUrl, projectId: a.projectId ?? '',
    apiKey: enc(a.apiKey, encKey), priority: String(a.priority), isActive: a.isActive ? '1' : '0', accountType: a.accountType,
    proxy: enc(a.proxy, encKey), createdAt: a.createdAt, updatedAt: a.updatedAt,
    ...(a.platform === 'claude' ? { clients: a.clients } : {}),
    ...(a.oauth ? oauthFields(a.oauth, encKey) : {}),
  }
}

/** The hash fields of an account's OAuth tokens (tokens encrypted). */
function oauthFields(o: AccountOAuth, encKey: string): Record<string, string> {
  return {
    accessToken: enc(o.accessToken, encKey), refreshToken: enc(o.refreshToken, encKey), tokenExpiresAt: String(o.expiresAt),
    scopes: JSON.stringify(o.scopes), email: o.email ?? '', organization: o.organization ?? '',
  }
}

const TYPES = new Set<Account['type']>(['console', 'oauth', 'setup-token', 'api-key'])

function fromHash(platform: Platform, h: Record<string, string>, encKey: string): Account | null {
  if (!h.id) return null
  const type = TYPES.has(h.type as Account['type']) ? h.type as Account['type'] : 'console'
  return {
    id: h.id, platform, type, name: h.name ?? '', description: h.description ?? '', projectId: h.projectId || null,
    apiUrl: h.apiUrl ?? '', apiKey: dec(h.apiKey, encKey),
    oauth: isSubscription({ type })
      ? {
          accessToken: dec(h.accessToken, encKey), refreshToken: dec(h.refreshToken, encKey), expiresAt: Number(h.tokenExpiresAt) || 0,
          scopes: safeList(h.scopes), email: h.email || null, organization: h.organization || null,
        }
      : null,
    priority: Number(h.priority ?? 50), isActive: h.isActive === '1', accountType: h.accountType === 'dedicated' ? 'dedicated' : 'shared',
    clients: platform === 'claude' && ACCOUNT_CLIENTS.includes(h.clients as AccountClients) ? h.clients as AccountClients : defaultClients(platform, type),
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
export async function saveOAuthTokens(redis: Redis, encKey: string, platform: Platform, id: string, o: AccountOAuth): Promise<void> {
  await redis.hset(rk.account(platform, id), { ...oauthFields(o, encKey), updatedAt: new Date().toISOString() })
}

/** Create an account (its API key, tokens and proxy are encrypted at rest). */
export async function createAccount(redis: Redis, encKey: string, platform: Platform, input: AccountInput): Promise<Account> {
  const now = new Date().toISOString()
  const type = input.type ?? (platform === 'claude' ? 'console' : 'api-key')
  const account: Account = {
    id: randomUUID(), platform, type, description: '', priority: 50, isActive: true, projectId: null,
    accountType: 'shared', clients: defaultClients(platform, type), proxy: null, apiUrl: '', apiKey: '', oauth: null,
    // Fields the caller left undefined keep these defaults.
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as AccountInput,
    createdAt: now, updatedAt: now, lastUsedAt: null,
  }
  await redis.multi()
    .hset(rk.account(platform, account.id), toHash(account, encKey))
    .sadd(rk.accountIndex(platform), account.id)
    .exec()
  return account
}

/**
 * Write a whole account under its own id (an import keeps the ids its keys are bound to): the
 * record is replaced, not merged, and joins the platform's index.
 */
export async function saveAccount(redis: Redis, encKey: string, account: Omit<Account, 'state' | 'sessionWindow' | 'lastUsedAt'>): Promise<void> {
  const key = rk.account(account.platform, account.id)
  await redis.multi().del(key).hset(key, toHash({ ...account, lastUsedAt: null }, encKey)).sadd(rk.accountIndex(account.platform), account.id).exec()
}

export async function getAccount(redis: Redis, encKey: string, platform: Platform, id: string): Promise<Account | null> {
  const rows = await redis.pipeline().hgetall(rk.account(platform, id)).hget(rk.lastUsed(), `a:${id}`).exec()
  const account = fromHash(platform, (rows?.[0]?.[1] ?? {}) as Record<string, string>, encKey)
  if (account) {
    account.lastUsedAt = (rows?.[1]?.[1] as string | null) ?? null
    account.state = (await readStates(redis, platform)).get(id)
    account.sessionWindow = (await readWindows(redis, platform)).get(id)
    account.headroom = (await readHeadroom(redis, platform)).get(id)
    account.usagePoll = (await readUsagePolls(redis, platform)).get(id)
  }
  return account
}

/** Every Claude account, one round trip for the index and one pipeline for the records. */
export async function listAccounts(redis: Redis, encKey: string, platform: Platform): Promise<Account[]> {
  const ids = await redis.smembers(rk.accountIndex(platform))
  if (ids.length === 0) return []
  const pipe = redis.pipeline()
  for (const id of ids) pipe.hgetall(rk.account(platform, id))
  pipe.hmget(rk.lastUsed(), ...ids.map(id => `a:${id}`))
  const [rows, states, windows, headroom, polls] = await Promise.all([
    pipe.exec(), readStates(redis, platform), readWindows(redis, platform), readHeadroom(redis, platform), readUsagePolls(redis, platform),
  ])
  const lastUsed = rows?.pop()?.[1] as (string | null)[]
  return (rows ?? [])
    .map(([, h], i) => {
      const a = fromHash(platform, h as Record<string, string>, encKey)
      if (a) {
        a.lastUsedAt = lastUsed[i] ?? null
        a.state = states.get(a.id)
        a.sessionWindow = windows.get(a.id)
        a.headroom = headroom.get(a.id)
        a.usagePoll = polls.get(a.id)
      }
      return a
    })
    .filter((a): a is Account => a !== null)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
}

export async function updateAccount(redis: Redis, encKey: string, platform: Platform, id: string, patch: Partial<AccountInput>): Promise<Account | null> {
  const current = await getAccount(redis, encKey, platform, id)
  if (!current) return null
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined))
  const next: Account = { ...current, ...defined, updatedAt: new Date().toISOString() }
  await redis.hset(rk.account(platform, id), toHash(next, encKey))
  return next
}

export async function deleteAccount(redis: Redis, platform: Platform, id: string): Promise<boolean> {
  const [[, deleted] = []] = (await redis.multi().del(rk.account(platform, id)).srem(rk.accountIndex(platform), id)
    .hdel(rk.lastUsed(), `a:${id}`).hdel(rk.accountStates(), `${platform}:${id}`).hdel(rk.accountWindows(), `${platform}:${id}`)
    .hdel(rk.accountHeadroom(), `${platform}:${id}`).hdel(rk.usagePoll(), `${platform}:${id}`).exec()) ?? []
  return deleted === 1
}
