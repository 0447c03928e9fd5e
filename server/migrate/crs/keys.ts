import { ApiKeyCreateSchema } from '../../admin/schemas'
import { CLIENT_IDS, type ClientId } from '../../keys/access'
import type { ApiKeySettings, Permission } from '../../keys/records'

/** A CRS API key as this relay will store it (its CRS hash becomes a legacy hash). */
export interface ImportedKey {
  id: string
  /** sha256(plaintext + CRS ENCRYPTION_KEY), hex: what CRS looks the key up by. */
  crsHash: string
  settings: ApiKeySettings
  createdAt: string
  activatedAt: string | null
  lastUsedAt: string | null
}

export type KeyMapping = { kind: 'key', key: ImportedKey, problems: string[] } | { kind: 'deleted' } | { kind: 'skipped', problems: string[] }

/** CRS ids are UUIDs; anything else would not survive this relay's validation (bindings are UUIDs). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const HASH = /^[0-9a-f]{64}$/

const num = (v: string | undefined) => {
  const n = Number(v)
  return Number.isFinite(n) && n > 0 ? n : 0
}
const int = (v: string | undefined) => Math.floor(num(v))
const bool = (v: string | undefined) => v === 'true'

function jsonList(raw: string | undefined): string[] {
  try {
    const v: unknown = JSON.parse(raw ?? '[]')
    return Array.isArray(v) ? v.filter(x => typeof x === 'string') : []
  }
  catch {
    return []
  }
}

/** CRS permissions: a JSON array (empty = every service) or older 'all' / 'claude' / 'claude,gemini' strings. */
export function crsPermissions(raw: string | undefined): { permissions: Permission, none: boolean } {
  const list = !raw || raw === 'all' ? [] : raw.startsWith('[') ? jsonList(raw) : raw.split(',').map(s => s.trim())
  if (list.length === 0 || list.includes('all')) return { permissions: 'all', none: false }
  const ours = (['claude', 'gemini'] as const).filter(p => list.includes(p))
  return { permissions: ours.length === 1 ? ours[0]! : 'all', none: ours.length === 0 }
}

const iso = (v: string | undefined) => (v && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : null)

/**
 * Map one `apikey:{id}` hash to this relay's settings. Where CRS means something this relay has no
 * setting for, the key is imported with the closest setting that is never LESS restrictive, and
 * the difference is reported; a key whose services or clients all lie outside this relay is
 * imported disabled rather than opened to everything.
 */
export function mapCrsKey(h: Record<string, string>): KeyMapping {
  if (h.isDeleted === 'true') return { kind: 'deleted' }
  const id = h.id ?? ''
  const label = `key ${id || '(no id)'}`
  if (!UUID.test(id)) return { kind: 'skipped', problems: [`${label}: id is not a UUID`] }
  if (!HASH.test(h.apiKey ?? '')) return { kind: 'skipped', problems: [`${label}: no sha256 key hash in its apiKey field`] }
  const problems: string[] = []
  const say = (m: string) => problems.push(`${label} (${h.name ?? ''}): ${m}`)
  let isActive = h.isActive !== 'false'

  const { permissions, none } = crsPermissions(h.permissions)
  if (none) {
    say(`permissions ${h.permissions} name no service this relay serves (claude, gemini): imported disabled`)
    isActive = false
  }

  let allowedClients: ClientId[] = []
  if (bool(h.enableClientRestriction)) {
    const wanted = jsonList(h.allowedClients)
    allowedClients = wanted.filter((c): c is ClientId => (CLIENT_IDS as string[]).includes(c))
    const dropped = wanted.filter(c => !(CLIENT_IDS as string[]).includes(c))
    if (dropped.length) say(`allowed clients ${dropped.join(', ')} are not known here and were dropped`)
    if (wanted.length && allowedClients.length === 0) {
      say('none of its allowed clients is known here: imported disabled')
      isActive = false
    }
  }

  // CRS checks restrictedModels as a block-list (a listed model is refused, others pass), so it
  // becomes blockedModels; allowedModels would refuse every model NOT listed.
  const blockedModels = bool(h.enableModelRestriction) ? jsonList(h.restrictedModels) : []

  // CRS's tokenLimit is a per-window token limit, enforced only with a window; ours is lifetime.
  const rateLimitWindow = int(h.rateLimitWindow)
  const rateLimitTokens = rateLimitWindow ? int(h.tokenLimit) : 0
  if (!rateLimitWindow && int(h.tokenLimit)) say('tokenLimit without a rate window is not enforced by CRS either: dropped')
  if (num(h.weeklyOpusCostLimit)) say(`weeklyOpusCostLimit $${num(h.weeklyOpusCostLimit)} not carried: this relay's weekly limit counts every model`)

  // Expiry: a fixed date, or N days (hours, in CRS) from first use — or, once used, the date that gave.
  let expiresAt = iso(h.expiresAt)
  let activationDays = 0
  let activatedAt: string | null = null
  if (h.expirationMode === 'activation') {
    if (h.isActivated === 'true') activatedAt = iso(h.activatedAt)
    else {
      expiresAt = null
      const n = int(h.activationDays)
      activationDays = h.activationUnit === 'hours' ? Math.ceil(n / 24) : n
      if (h.activationUnit === 'hours' && n % 24) say(`activation period of ${n} hours rounded up to ${activationDays} days`)
    }
  }

  const binding = (field: 'claudeAccountId' | 'claudeConsoleAccountId' | 'geminiAccountId') => {
    const v = h[field] ?? ''
    if (!v) return null
    if (UUID.test(v)) return v
    say(`${field} ${v.startsWith('group:') ? 'binds an account group (not supported here)' : 'is not an account id'}: binding dropped`)
    return null
  }
  const claudeOAuth = binding('claudeAccountId')
  const claudeConsole = binding('claudeConsoleAccountId')
  if (claudeOAuth && claudeConsole) say('bound to both a Claude OAuth and a Console account: kept the OAuth one')
  for (const f of ['openaiAccountId', 'azureOpenaiAccountId', 'bedrockAccountId', 'droidAccountId']) {
    if (h[f]) say(`${f} binding dropped (that account kind is not supported)`)
  }

  const tags = jsonList(h.tags).map(t => t.trim()).filter(Boolean)
  // eslint-disable-next-line no-control-regex -- names and tags must not carry control characters here
  const bad = /[\x00-\x1F\x7F]/
  const settings: ApiKeySettings = {
    name: (h.name ?? '').replace(bad, ' ').trim().slice(0, 100) || 'Unnamed Key',
    description: (h.description ?? '').slice(0, 500),
    tags: tags.filter(t => !t.includes(',') && !bad.test(t)).map(t => t.slice(0, 50)).slice(0, 20),
    isActive, expiresAt, activationDays, permissions,
    allowedModels: [], blockedModels, allowedClients,
    rateLimitWindow, rateLimitRequests: rateLimitWindow ? int(h.rateLimitRequests) : 0, rateLimitTokens, rateLimitCost: rateLimitWindow ? num(h.rateLimitCost) : 0,
    concurrencyLimit: int(h.concurrencyLimit), dailyCostLimit: num(h.dailyCostLimit), weeklyCostLimit: 0,
    totalCostLimit: num(h.totalCostLimit), tokenLimit: 0,
    claudeAccountId: claudeOAuth ?? claudeConsole, geminiAccountId: binding('geminiAccountId'),
    dedicatedFallback: false,
  }
  if (settings.tags.length !== tags.length) say('tags with commas or control characters, or past 20, were dropped')
  // The same rules as a key an admin creates here: a value CRS let through that this relay refuses is reported, not stored.
  const checked = ApiKeyCreateSchema.safeParse(settings)
  if (!checked.success) {
    return { kind: 'skipped', problems: [...problems, ...checked.error.issues.map(i => `${label}: ${i.path.join('.')}: ${i.message} (key not imported)`)] }
  }
  return {
    kind: 'key', problems,
    key: { id, crsHash: h.apiKey!, settings, createdAt: iso(h.createdAt) ?? new Date(0).toISOString(), activatedAt, lastUsedAt: iso(h.lastUsedAt) },
  }
}
