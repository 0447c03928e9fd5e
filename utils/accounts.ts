// Pure helpers of the Accounts screen (no Nuxt imports: unit-tested with plain vitest). The admin
// API's shapes come from the server's route types (type-only, erased at build).

import type { InternalApi } from 'nitropack'
import type { AccountClients } from '~~/server/accounts/store'

export type { AccountClients }

export type AccountPlatform = 'claude' | 'gemini'
/** The kinds the table shows (message keys under accounts.kind). */
export type AccountKind = 'claudeOauth' | 'claudeSetupToken' | 'claudeConsole' | 'geminiOauth' | 'geminiApiKey'

type ServerAccountView = InternalApi['/api/admin/claude-accounts/:id']['get']

/**
 * An account as GET /api/admin/{claude|gemini}-accounts shows it (secrets never included; proxy
 * redacted as `socks5://user:***@host:port`). The server's view is a union of the two platforms'
 * shapes; here both in one: Claude accounts have `apiUrl` and `clients`, Gemini accounts `baseUrl` and `projectId`.
 */
export type AccountView = Omit<ServerAccountView, 'apiUrl' | 'baseUrl' | 'projectId' | 'clients'> & { apiUrl?: string, baseUrl?: string, projectId?: string | null, clients?: AccountClients }

/** A Claude account that may be sent clients Anthropic refuses its subscription token for (shown with a warning). */
export const servesOthersOnSubscription = (a: Pick<AccountView, 'platform' | 'type' | 'clients'>) => a.platform === 'claude' && isSubscriptionView(a) && a.clients === 'any'

/** A subscription account: an OAuth sign-in or a setup token (both authorised by a Bearer token Anthropic takes from Claude Code only). */
export const isSubscriptionView = (a: Pick<AccountView, 'type'>) => a.type === 'oauth' || a.type === 'setup-token'

/** An account's state name ('active' when it is in the pool). */
export type AccountStateName = AccountView['status']['state']

/** One account's entry in GET /connection-pools. */
export type PoolEntry = InternalApi['/connection-pools']['get']['accounts'][number]

/** One row of GET /api/admin/usage/breakdown?by=account. */
export type UsageRow = InternalApi['/api/admin/usage/breakdown']['get']['items'][number]

export const accountsApiBase = (platform: AccountPlatform) => `/api/admin/${platform}-accounts`

export function accountKindOf(a: Pick<AccountView, 'platform' | 'type'>): AccountKind {
  if (a.platform === 'gemini') return a.type === 'oauth' ? 'geminiOauth' : 'geminiApiKey'
  return a.type === 'oauth' ? 'claudeOauth' : a.type === 'setup-token' ? 'claudeSetupToken' : 'claudeConsole'
}

export const PROXY_TYPES = ['none', 'socks5', 'socks5h', 'http', 'https'] as const
export type ProxyType = typeof PROXY_TYPES[number]
export interface ProxyForm { type: ProxyType, host: string, port: string, username: string, password: string }

export const emptyProxyForm = (): ProxyForm => ({ type: 'none', host: '', port: '', username: '', password: '' })

/** The proxy URL for a form (null for none); user and password percent-encoded, IPv6 hosts bracketed. */
export function proxyUrlFromForm(f: ProxyForm): string | null {
  if (f.type === 'none') return null
  const host = f.host.trim()
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  const user = f.username ? encodeURIComponent(f.username) : ''
  const auth = user ? `${user}${f.password ? `:${encodeURIComponent(f.password)}` : ''}@` : ''
  return `${f.type}://${auth}${h}:${f.port.trim()}`
}

/** A proxy URL back into form fields (decoded); anything unparsable gives an empty form. */
export function proxyFormFromUrl(url: string | null | undefined): ProxyForm {
  const m = url ? /^([a-z0-9]+):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/i.exec(url.trim()) : null
  const type = m?.[1]?.toLowerCase() as ProxyType | undefined
  if (!m || !type || !PROXY_TYPES.includes(type) || type === 'none') return emptyProxyForm()
  const decode = (s: string | undefined) => {
    try {
      return decodeURIComponent(s ?? '')
    }
    catch {
      return s ?? ''
    }
  }
  return { type, host: m[4]!.replace(/^\[|\]$/g, ''), port: m[5] ?? '', username: decode(m[2]), password: decode(m[3]) }
}

/** `host:port` of a (redacted) proxy URL, for the table; null without a proxy. */
export function proxyHostOf(url: string | null): string | null {
  if (!url) return null
  const f = proxyFormFromUrl(url)
  if (f.type === 'none') return url
  const host = f.host.includes(':') ? `[${f.host}]` : f.host
  return f.port ? `${host}:${f.port}` : host
}

export interface StateInfo {
  state: AccountStateName
  reason: string
  /** When the state ends by itself (ms); null when it lasts until an admin resets it. */
  endsAt: number | null
  remainingMs: number | null
}

/**
 * What the table shows for an account's status at `now`: a state whose end has passed reads as
 * active (the server reports it so on the next load).
 */
/** What the state helpers read of an account's `status` (the server's view, or a part of it). */
export interface StatusLike { state: AccountStateName, reason?: string, since?: string, until?: string | null }

export function stateInfo(status: StatusLike, now = Date.now()): StateInfo {
  if (status.state === 'active') return { state: 'active', reason: '', endsAt: null, remainingMs: null }
  const endsAt = status.until ? Date.parse(status.until) : null
  if (endsAt !== null && endsAt <= now) return { state: 'active', reason: '', endsAt: null, remainingMs: null }
  return { state: status.state, reason: status.reason ?? '', endsAt, remainingMs: endsAt === null ? null : endsAt - now }
}

/** An OAuth token's expiry at `now`: null when the account has no token or it is not known yet. */
export function tokenExpiryInfo(oauth: AccountView['oauth'], now = Date.now()): { at: number, remainingMs: number, expired: boolean } | null {
  const at = oauth?.expiresAt ? Date.parse(oauth.expiresAt) : Number.NaN
  if (Number.isNaN(at)) return null
  return { at, remainingMs: at - now, expired: at <= now }
}

/** The limit windows a subscription reports, in the order the table shows them. */
export const HEADROOM_WINDOWS = ['fiveHour', 'sevenDay', 'sevenDayOpus', 'sevenDaySonnet'] as const
export type HeadroomWindowKey = typeof HEADROOM_WINDOWS[number]

/** One window's bar: `ok` below 80 % used, `warn` to 95 %, `over` from 95 % or when Anthropic rejects it. */
export interface HeadroomBar {
  key: HeadroomWindowKey
  /** Share used, 0–1, as the bar fills (0 once the window has started over). */
  used: number
  level: 'ok' | 'warn' | 'over'
  /** When the window resets (ms); null when not reported. */
  resetAt: number | null
  /** Past its reset: the reported figures are the previous window's. */
  reset: boolean
}

/**
 * Subscription headroom as bars for the table at `now`: every window with a reported utilisation
 * (or a rejection); empty when none was reported.
 */
export function headroomBars(h: AccountView['headroom'], now = Date.now()): HeadroomBar[] {
  if (!h) return []
  return HEADROOM_WINDOWS.flatMap((key) => {
    const w = h[key]
    const rejected = w?.status === 'rejected'
    if (!w || (w.utilization === null && !rejected)) return []
    const resetAt = w.resetAt ? Date.parse(w.resetAt) : Number.NaN
    const reset = resetAt <= now
    const used = reset ? 0 : Math.min(1, Math.max(0, w.utilization ?? 1))
    const level = reset ? 'ok' : rejected || used >= 0.95 ? 'over' : used >= 0.8 ? 'warn' : 'ok'
    return [{ key, used, level, resetAt: Number.isNaN(resetAt) ? null : resetAt, reset }]
  })
}

/** The earliest future end among states (ms), to reload when a state runs out. */
export function nextStateEnd(accounts: { status: StatusLike }[], now = Date.now()): number | null {
  let next: number | null = null
  for (const a of accounts) {
    const end = a.status.until ? Date.parse(a.status.until) : Number.NaN
    if (end > now && (next === null || end < next)) next = end
  }
  return next
}

/** Open connections / warm target of an account's API origin, and whether it can connect. */
export function poolSummary(p: (Pick<PoolEntry, 'accountId' | 'healthy'> & { origins: Pick<PoolEntry['origins'][number], 'open' | 'warmTarget' | 'lastError'>[] }) | undefined): { open: number, target: number, healthy: boolean, lastError: string | null } | null {
  const api = p?.origins[0]
  if (!p || !api) return null
  return { open: api.open, target: api.warmTarget, healthy: p.healthy, lastError: api.lastError?.message ?? null }
}

/** Today (UTC, like the usage buckets) from midnight up to now, as breakdown query parameters. */
export function todayUtcRange(now = new Date()): { from: string, to: string } {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()))
  return { from: from.toISOString(), to: now.toISOString() }
}

/** Tokens read from a pasted credentials file. */
export interface ImportedCredentials { refreshToken: string, accessToken?: string, expiresAt?: number, scopes?: string[] }

/**
 * Map a pasted credentials file to import fields: Claude Code's `.credentials.json`
 * (`{claudeAiOauth: {accessToken, refreshToken, expiresAt, scopes}}`, or that object alone) and
 * Gemini CLI's `oauth_creds.json` (`{access_token, refresh_token, expiry_date, scope}`).
 * Throws Error('invalid-json') or Error('no-refresh-token') (message keys).
 */
export function parseCredentialsJson(text: string): ImportedCredentials {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  }
  catch {
    throw new Error('invalid-json')
  }
  if (!raw || typeof raw !== 'object') throw new Error('invalid-json')
  const root = raw as Record<string, unknown>
  const o = (root.claudeAiOauth && typeof root.claudeAiOauth === 'object' ? root.claudeAiOauth : root) as Record<string, unknown>
  const str = (...keys: string[]) => keys.map(k => o[k]).find((v): v is string => typeof v === 'string' && v.trim() !== '')?.trim()
  const refreshToken = str('refreshToken', 'refresh_token')
  if (!refreshToken) throw new Error('no-refresh-token')
  const out: ImportedCredentials = { refreshToken }
  const accessToken = str('accessToken', 'access_token')
  if (accessToken) out.accessToken = accessToken
  const exp = o.expiresAt ?? o.expiry_date ?? o.expires_at ?? o.expiry
  // Seconds or milliseconds since the epoch, or a date string.
  const ms = typeof exp === 'number' ? (exp < 1e11 ? exp * 1000 : exp) : typeof exp === 'string' ? (/^\d+$/.test(exp) ? Number(exp) : Date.parse(exp)) : Number.NaN
  if (Number.isFinite(ms) && ms > 0) out.expiresAt = Math.round(ms)
  const scopes = Array.isArray(o.scopes) ? o.scopes.filter((s): s is string => typeof s === 'string') : typeof o.scope === 'string' ? o.scope.split(/\s+/).filter(Boolean) : []
  if (scopes.length) out.scopes = scopes
  return out
}

/** The fields every account has, as the add and edit forms hold them. */
export interface AccountCommonForm { name: string, description: string, priority: number, accountType: 'shared' | 'dedicated' }

/** Kind-specific credentials in the forms (Claude Console: apiUrl + apiKey; Gemini API key: apiKey + baseUrl). */
export interface AccountKeyForm { apiUrl: string, apiKey: string, baseUrl: string }

/** Imported OAuth tokens as typed or read from a credentials file. */
export interface AccountImportForm { refreshToken: string, accessToken: string, expiresAt: string, scopes: string[] }

/** A setup token as the add form holds it: the token, and its expiry as a date input's `YYYY-MM-DD` ('' = unknown). */
export interface AccountSetupTokenForm { accessToken: string, expiresOn: string }

/** The setup-token form as request fields: the expiry at the end of that day (UTC), left out when unknown. */
export function setupTokenFields(f: AccountSetupTokenForm): { accessToken: string, expiresAt?: string } {
  const on = f.expiresOn.trim()
  return { accessToken: f.accessToken.trim(), ...(/^\d{4}-\d{2}-\d{2}$/.test(on) ? { expiresAt: `${on}T23:59:59Z` } : {}) }
}

/** Every field the account forms show (a server field error on one of them is shown beside it). */
export const ACCOUNT_FORM_FIELDS = ['name', 'description', 'priority', 'accountType', 'clients', 'proxy', 'apiUrl', 'apiKey', 'baseUrl',
  'refreshToken', 'accessToken', 'expiresAt', 'scopes', 'projectId', 'code', 'sessionId'] as const

/** Client-side checks before a request (message keys under accounts.validation). */
export function checkCommonForm(f: AccountCommonForm): Record<string, string> {
  const out: Record<string, string> = {}
  if (!f.name.trim()) out.name = 'nameRequired'
  else if (f.name.trim().length > 100) out.name = 'nameTooLong'
  if (!Number.isInteger(f.priority) || f.priority < 0 || f.priority > 1000) out.priority = 'priorityRange'
  return out
}

/** Proxy form checks: a host and a port 1–65535 unless none. */
export function checkProxyForm(f: ProxyForm): string | null {
  if (f.type === 'none') return null
  if (!f.host.trim()) return 'proxyHost'
  const port = Number(f.port)
  if (!/^\d+$/.test(f.port.trim()) || port < 1 || port > 65_535) return 'proxyPort'
  return null
}

/** The import form as request fields: expiresAt as ms (a number) or an ISO date, empty fields left out. */
export function importFields(f: AccountImportForm): { refreshToken: string, accessToken?: string, expiresAt?: number | string, scopes?: string[] } {
  const exp = f.expiresAt.trim()
  return {
    refreshToken: f.refreshToken.trim(),
    ...(f.accessToken.trim() ? { accessToken: f.accessToken.trim() } : {}),
    ...(exp ? { expiresAt: /^\d+$/.test(exp) ? Number(exp) : exp } : {}),
    ...(f.scopes.length ? { scopes: f.scopes } : {}),
  }
}
