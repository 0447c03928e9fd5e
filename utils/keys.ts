// Pure helpers of the API-keys screen: the shapes the admin API answers, the form model and its
// conversion to a request body, status/expiry/limit derivations (display formatting is utils/format.ts). No Nuxt or Vue
// imports, so tests/unit/keys-ui.test.ts runs them with plain vitest. The server's types are
// imported type-only (erased at build), so no server code reaches the browser bundle.

import type { InternalApi } from 'nitropack'
import type { ApiKeyView, Permission } from '~~/server/keys/records'
import type { UsageEvent } from '~~/server/usage/record'
import type { Usage } from '~~/server/usage/types'
import type { AccountView } from './accounts'
import type { AmountUnit } from './format'

export type KeyPermission = Permission

/** Client ids a key can be restricted to (server/keys/access.ts CLIENT_IDS; a unit test keeps them equal). */
export const KEY_CLIENT_IDS = ['claude_code', 'gemini_cli', 'anthropic_sdk', 'openai_sdk', 'google_genai_sdk', 'sillytavern'] as const

export const KEY_PERMISSIONS: readonly KeyPermission[] = ['all', 'claude', 'gemini']

/** An API key as the admin API shows it. */
export type KeyView = ApiKeyView

/** An account for the dedicated-account pickers (the fields it needs of GET /api/admin/{claude,gemini}-accounts items). */
export type KeyAccountOption = Pick<AccountView, 'id' | 'name'> & Partial<Pick<AccountView, 'accountType' | 'isActive'>>

/** GET /api/admin/api-keys: a page of keys. */
export type KeyListPage = InternalApi['/api/admin/api-keys']['get']

type KeyUsageResponse = InternalApi['/api/admin/api-keys/:id/usage']['get']

/** Usage counters as GET /api/admin/api-keys/:id/usage answers them (cost in USD). */
export type KeyCounters = KeyUsageResponse['usage']['daily'][number]['models'][string]

/** One of a key's recent requests as the server records it (server/usage/record.ts; it reads them back untyped). */
export type KeyRecentRequest = Pick<UsageEvent, 'model' | 'accountId' | 'status' | 'durationMs' | 'costMicros' | 'priced' | 'aborted'> & Usage & { id: string, at: string }

/** A key's live limit state: the running rate window, leases in use, this week's cost. */
export type KeyLimitState = KeyUsageResponse['state']

/** GET /api/admin/api-keys/:id/usage, with the recent requests typed. */
export type KeyUsageDetail = Omit<KeyUsageResponse, 'recent'> & { recent: KeyRecentRequest[] }

/** Every token a request used (what token limits count). */
export const totalTokens = (c: Pick<KeyCounters, 'inputTokens' | 'outputTokens' | 'cacheCreate5m' | 'cacheCreate1h' | 'cacheRead'>) =>
  c.inputTokens + c.outputTokens + c.cacheCreate5m + c.cacheCreate1h + c.cacheRead

// ---------------------------------------------------------------------------------------------
// Form

/** The numeric limits, in form order (0 = off). */
export const KEY_LIMIT_FIELDS = ['rateLimitWindow', 'rateLimitRequests', 'rateLimitTokens', 'rateLimitCost', 'concurrencyLimit',
  'dailyCostLimit', 'weeklyCostLimit', 'totalCostLimit', 'tokenLimit'] as const
export type KeyLimitField = typeof KEY_LIMIT_FIELDS[number]

/** Limits given in USD (decimal inputs); the others are whole numbers. */
export const KEY_USD_FIELDS: readonly KeyLimitField[] = ['rateLimitCost', 'dailyCostLimit', 'weeklyCostLimit', 'totalCostLimit']

/** What the form edits: lists as text, the expiry as a datetime-local value, "no account" as ''. */
export interface KeyForm extends Record<KeyLimitField, number> {
  name: string
  description: string
  tags: string
  isActive: boolean
  expiresAt: string
  activationDays: number
  permissions: KeyPermission
  allowedModels: string
  blockedModels: string
  allowedClients: string[]
  claudeAccountId: string
  geminiAccountId: string
  dedicatedFallback: boolean
}

/** The body of POST/PUT /api/admin/api-keys. */
export type KeyPayload = Omit<KeyView, 'id' | 'createdAt' | 'updatedAt' | 'lastUsedAt' | 'activatedAt'>

export function emptyKeyForm(): KeyForm {
  return {
    name: '', description: '', tags: '', isActive: true, expiresAt: '', activationDays: 0, permissions: 'all',
    allowedModels: '', blockedModels: '', allowedClients: [], rateLimitWindow: 0, rateLimitRequests: 0,
    rateLimitTokens: 0, rateLimitCost: 0, concurrencyLimit: 0, dailyCostLimit: 0, weeklyCostLimit: 0,
    totalCostLimit: 0, tokenLimit: 0, claudeAccountId: '', geminiAccountId: '', dedicatedFallback: false,
  }
}

/** "a, b\nc" → ['a', 'b', 'c']: commas or new lines separate, blanks and repeats are dropped. */
export function splitKeyList(text: string): string[] {
  return [...new Set(text.split(/[,\n]/).map(s => s.trim()).filter(Boolean))]
}

const pad = (n: number) => String(n).padStart(2, '0')

/** ISO date-time → the local `YYYY-MM-DDTHH:mm` a datetime-local input shows ('' for none). */
export function isoToLocalInput(iso: string | null): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** A datetime-local value (local time) → ISO in UTC; null for '' or an unreadable value. */
export function localInputToIso(value: string): string | null {
  if (!value) return null
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? null : d.toISOString()
}

export function keyToForm(k: KeyView): KeyForm {
  const limits = Object.fromEntries(KEY_LIMIT_FIELDS.map(f => [f, k[f]])) as Record<KeyLimitField, number>
  return {
    ...limits,
    name: k.name, description: k.description, tags: k.tags.join(', '), isActive: k.isActive,
    expiresAt: isoToLocalInput(k.expiresAt), activationDays: k.activationDays, permissions: k.permissions,
    allowedModels: k.allowedModels.join('\n'), blockedModels: k.blockedModels.join('\n'),
    allowedClients: [...k.allowedClients], claudeAccountId: k.claudeAccountId ?? '',
    geminiAccountId: k.geminiAccountId ?? '', dedicatedFallback: k.dedicatedFallback,
  }
}

// An emptied number input gives '' (v-model.number keeps it): that means 0, i.e. off.
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : Number(v) || 0)

/** The request body for a form: every field, so an edit can also clear a list or a limit. */
export function keyFormToPayload(f: KeyForm): KeyPayload {
  const limits = Object.fromEntries(KEY_LIMIT_FIELDS.map(field => [field, num(f[field])])) as Record<KeyLimitField, number>
  return {
    ...limits,
    name: f.name.trim(), description: f.description, tags: splitKeyList(f.tags), isActive: f.isActive,
    expiresAt: localInputToIso(f.expiresAt), activationDays: num(f.activationDays), permissions: f.permissions,
    allowedModels: splitKeyList(f.allowedModels), blockedModels: splitKeyList(f.blockedModels),
    allowedClients: [...f.allowedClients], claudeAccountId: f.claudeAccountId || null,
    geminiAccountId: f.geminiAccountId || null, dedicatedFallback: f.dedicatedFallback,
  }
}

/** The form's fields (the request body's names too: a server field error goes beside its field). */
export const KEY_FORM_FIELDS = Object.keys(emptyKeyForm()) as readonly (keyof KeyForm)[]

// ---------------------------------------------------------------------------------------------
// Status, expiry, limits

export type KeyStatus = 'active' | 'disabled' | 'expired'

/** When the key stops working: its fixed date, or activation + days once it was first used. */
export function keyExpiresAt(k: Pick<KeyView, 'expiresAt' | 'activationDays' | 'activatedAt'>): string | null {
  const dates: number[] = []
  if (k.expiresAt) dates.push(Date.parse(k.expiresAt))
  if (k.activationDays > 0 && k.activatedAt) dates.push(Date.parse(k.activatedAt) + k.activationDays * 86_400_000)
  const valid = dates.filter(d => !Number.isNaN(d))
  return valid.length ? new Date(Math.min(...valid)).toISOString() : null
}

export function keyStatus(k: Pick<KeyView, 'isActive' | 'expiresAt' | 'activationDays' | 'activatedAt'>, now = Date.now()): KeyStatus {
  if (!k.isActive) return 'disabled'
  const until = keyExpiresAt(k)
  return until && Date.parse(until) <= now ? 'expired' : 'active'
}

export type KeyLimitUnit = AmountUnit

/** One limit with what was used against it (only limits that are on). */
export interface KeyLimitBar {
  id: 'windowRequests' | 'windowTokens' | 'windowCost' | 'concurrency' | 'dailyCost' | 'weeklyCost' | 'totalCost' | 'tokens'
  used: number
  limit: number
  unit: KeyLimitUnit
  /** When the rate window resets (window limits while a window is running). */
  resetsAt?: string | null
}

/** The limits of a key with their live use; `usage` null (not loaded yet) reads as nothing used. */
export function keyLimitBars(k: KeyView, usage: Pick<KeyUsageDetail, 'usage' | 'state'> | null, now = Date.now()): KeyLimitBar[] {
  const w = usage?.state.window
  // A window that has ended counts nothing any more, even before the next request opens a new one.
  const live = w && Date.parse(w.resetsAt) > now ? w : null
  const windowOn = k.rateLimitWindow > 0
  const today = usage?.usage.daily[0]
  const total = usage?.usage.total
  const bars: (KeyLimitBar | false)[] = [
    windowOn && k.rateLimitRequests > 0 && { id: 'windowRequests', used: live?.requests ?? 0, limit: k.rateLimitRequests, unit: 'count', resetsAt: live?.resetsAt ?? null },
    windowOn && k.rateLimitTokens > 0 && { id: 'windowTokens', used: live?.tokens ?? 0, limit: k.rateLimitTokens, unit: 'tokens', resetsAt: live?.resetsAt ?? null },
    windowOn && k.rateLimitCost > 0 && { id: 'windowCost', used: live?.cost ?? 0, limit: k.rateLimitCost, unit: 'usd', resetsAt: live?.resetsAt ?? null },
    k.concurrencyLimit > 0 && { id: 'concurrency', used: usage?.state.concurrency.inUse ?? 0, limit: k.concurrencyLimit, unit: 'count' },
    k.dailyCostLimit > 0 && { id: 'dailyCost', used: today?.cost ?? 0, limit: k.dailyCostLimit, unit: 'usd' },
    k.weeklyCostLimit > 0 && { id: 'weeklyCost', used: usage?.state.weeklyCost ?? 0, limit: k.weeklyCostLimit, unit: 'usd' },
    k.totalCostLimit > 0 && { id: 'totalCost', used: total?.cost ?? 0, limit: k.totalCostLimit, unit: 'usd' },
    k.tokenLimit > 0 && { id: 'tokens', used: total ? totalTokens(total) : 0, limit: k.tokenLimit, unit: 'tokens' },
  ]
  return bars.filter((b): b is KeyLimitBar => b !== false)
}

/** Share of a limit used, 0–100 (whole numbers; anything used shows at least 1). */
export function limitPercent(used: number, limit: number): number {
  if (limit <= 0 || used <= 0) return 0
  return Math.min(100, Math.max(1, Math.round((used / limit) * 100)))
}
