import type { Account, Platform } from '../../accounts/store'
import { parseProxyUrl } from '../../upstream/proxy-url'
import type { CrsDecryptor, CrsSaltKind } from './crypto'

/** The CRS account kinds this relay serves, by their Redis key prefix (CRS's account services). */
export const CRS_ACCOUNT_KINDS = {
  'claude-oauth': { prefix: 'claude:account:', platform: 'claude', salt: 'claude' },
  'claude-console': { prefix: 'claude_console_account:', platform: 'claude', salt: 'claudeConsole' },
  'gemini-oauth': { prefix: 'gemini_account:', platform: 'gemini', salt: 'gemini' },
  'gemini-api': { prefix: 'gemini_api_account:', platform: 'gemini', salt: 'geminiApi' },
} as const satisfies Record<string, { prefix: string, platform: Platform, salt: CrsSaltKind }>

export type CrsAccountKind = keyof typeof CRS_ACCOUNT_KINDS

/**
 * CRS account kinds this relay has no upstream for, by key prefix. Listed and skipped; any other
 * `…account…:{uuid}` key found is reported under its own prefix as well.
 */
export const UNSUPPORTED_PREFIXES = {
  'bedrock_account:': 'Bedrock', 'openai:account:': 'OpenAI', 'openai_responses_account:': 'OpenAI-Responses',
  'azure_openai:account:': 'Azure OpenAI', 'droid:account:': 'Droid', 'ccr_account:': 'CCR',
} as const

/** An account as this relay stores it (secrets in plaintext, in memory only), under its CRS id. */
export type ImportedAccount = Omit<Account, 'state' | 'sessionWindow' | 'lastUsedAt'>

export type AccountMapping = { kind: 'account', account: ImportedAccount, problems: string[] } | { kind: 'skipped', problems: string[] }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const GEMINI_DEFAULT_BASE = 'https://generativelanguage.googleapis.com'
/** Longest secret taken over (keys and OAuth tokens are a few hundred bytes; JWT-like tokens a few KB). */
const MAX_SECRET = 16_384

/**
 * A CRS proxy (`{type, host, port, username, password}` as JSON) as this relay's proxy URL, the
 * credentials URL-encoded so any character survives; null for none. Throws when it is not usable.
 */
export function crsProxyUrl(raw: string | undefined): string | null {
  if (!raw) return null
  let p: { type?: unknown, host?: unknown, port?: unknown, username?: unknown, password?: unknown }
  try {
    p = JSON.parse(raw)
  }
  catch {
    throw new Error('proxy is not JSON')
  }
  if (!p || typeof p !== 'object' || !p.host) return null
  const type = String(p.type ?? 'socks5').toLowerCase()
  const host = String(p.host)
  const auth = p.username ? `${encodeURIComponent(String(p.username))}${p.password ? `:${encodeURIComponent(String(p.password))}` : ''}@` : ''
  const url = `${type}://${auth}${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${String(p.port ?? '')}`
  parseProxyUrl(url)
  return url
}

const iso = (v: string | undefined) => (v && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : '')

/** CRS expiry: ms since the epoch (Claude) or an ISO date (Gemini); 0 = unknown, refreshed before first use. */
function expiryMs(v: string | undefined): number {
  if (!v) return 0
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
  return Number.isFinite(n) && n > 0 ? n : 0
}

const scopesOf = (v: string | undefined) => (v ?? '').split(/\s+/).filter(Boolean).slice(0, 50)

function httpUrl(v: string | undefined): string | null {
  try {
    const u = new URL(v ?? '')
    return /^https?:$/.test(u.protocol) ? (v ?? '').replace(/\/+$/, '') : null
  }
  catch {
    return null
  }
}

/**
 * Map one CRS account hash of `kind`, decrypting its secrets with `dec`. A wrong CRS key throws
 * (WrongCrsKeyError) and stops the whole import; a record this relay cannot use is skipped with
 * the reasons. Field names and defaults follow CRS's account services.
 */
export function mapCrsAccount(kind: CrsAccountKind, h: Record<string, string>, dec: CrsDecryptor): AccountMapping {
  const id = h.id ?? ''
  const label = `${kind} account ${id || '(no id)'} (${(h.name ?? '').slice(0, 100)})`
  if (!UUID.test(id)) return { kind: 'skipped', problems: [`${label}: id is not a UUID`] }
  const def = CRS_ACCOUNT_KINDS[kind]
  const problems: string[] = []
  const say = (m: string) => problems.push(`${label}: ${m}`)
  const skip = (m: string): AccountMapping => ({ kind: 'skipped', problems: [...problems, `${label}: ${m} (not imported)`] })
  const secret = (field: string, shape: 'token' | 'text' = 'token') => {
    const v = dec.decrypt(def.salt, h[field], shape, `${kind} account ${id} field ${field}`)
    if (v.length > MAX_SECRET) throw new Error(`${label}: ${field} is longer than ${MAX_SECRET} bytes`)
    return v
  }

  if (kind === 'gemini-oauth' && h.oauthProvider === 'antigravity') return skip(`OAuth provider ${h.oauthProvider} is not supported`)

  let proxy: string | null
  try {
    proxy = crsProxyUrl(h.proxy)
  }
  catch (err) {
    // Without its proxy the account would reach the upstream from another address: skipped, not stripped.
    return skip(`proxy is not usable (${(err as Error).message})`)
  }

  const schedulable = h.schedulable !== 'false'
  const isActive = h.isActive !== 'false' && schedulable
  if (h.isActive !== 'false' && !schedulable) say('not schedulable in CRS: imported inactive (enable it when ready)')
  let accountType: ImportedAccount['accountType'] = h.accountType === 'dedicated' ? 'dedicated' : 'shared'
  if (h.accountType === 'group') {
    // Group members served only keys bound to the group; shared would open them to every key.
    accountType = 'dedicated'
    say('a member of an account group (groups are not supported): imported dedicated')
  }
  const base: ImportedAccount = {
    id, platform: def.platform, type: 'console', name: (h.name ?? '').trim().slice(0, 100) || `${kind} ${id.slice(0, 8)}`,
    description: (h.description ?? '').slice(0, 500), apiUrl: '', apiKey: '', oauth: null, projectId: null,
    priority: Math.min(1000, Math.max(0, Math.floor(Number(h.priority) || 50))), isActive, accountType,
    clients: 'any', proxy, createdAt: iso(h.createdAt) || new Date(0).toISOString(), updatedAt: iso(h.updatedAt) || iso(h.createdAt) || new Date(0).toISOString(),
  }

  switch (kind) {
    case 'claude-oauth': {
      const refreshToken = secret('refreshToken')
      const accessToken = secret('accessToken')
      if (!refreshToken && !accessToken) return skip('no OAuth tokens')
      if (!refreshToken) say('no refresh token (a setup token?): it stops working when its access token expires')
      const email = secret('email', 'text')
      const account: ImportedAccount = {
        ...base, type: 'oauth', clients: 'claude-code',
        oauth: { accessToken, refreshToken, expiresAt: accessToken ? expiryMs(h.expiresAt) : 0, scopes: scopesOf(h.scopes), email: email || null, organization: null },
      }
      return { kind: 'account', account, problems }
    }
    case 'claude-console': {
      const apiUrl = httpUrl(h.apiUrl)
      if (!apiUrl) return skip('apiUrl is not an http(s) URL')
      const apiKey = secret('apiKey')
      if (!apiKey) return skip('no API key')
      if (h.userAgent) say('its user agent override is dropped: this relay sends the client\'s own user agent')
      if (h.supportedModels && h.supportedModels !== '[]' && h.supportedModels !== '{}') say('its model list/mapping is dropped: this relay has no per-account model mapping')
      return { kind: 'account', account: { ...base, type: 'console', apiUrl, apiKey }, problems }
    }
    case 'gemini-oauth': {
      const refreshToken = secret('refreshToken')
      const accessToken = secret('accessToken')
      if (!refreshToken && !accessToken) return skip('no OAuth tokens')
      const projectId = (h.projectId || h.tempProjectId || '').trim()
      const account: ImportedAccount = {
        ...base, type: 'oauth', projectId: /^[\w.:-]{1,200}$/.test(projectId) ? projectId : null,
        oauth: { accessToken, refreshToken, expiresAt: accessToken ? expiryMs(h.expiresAt) : 0, scopes: scopesOf(h.scopes), email: null, organization: null },
      }
      return { kind: 'account', account, problems }
    }
    case 'gemini-api': {
      const apiKey = secret('apiKey')
      if (!apiKey) return skip('no API key')
      const url = h.baseUrl ? httpUrl(h.baseUrl) : GEMINI_DEFAULT_BASE
      if (!url) return skip('baseUrl is not an http(s) URL')
      return { kind: 'account', account: { ...base, type: 'api-key', apiUrl: url === GEMINI_DEFAULT_BASE ? '' : url, apiKey }, problems }
    }
  }
}
