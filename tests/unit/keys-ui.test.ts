import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ApiKeyCreateSchema, ApiKeyUpdateSchema, validate } from '../../server/admin/schemas'
import { ValidationError } from '../../server/admin/validation'
import { formErrors } from '../../utils/api-errors'
import { CLIENT_IDS } from '../../server/keys/access'
import type { ApiKeyView } from '../../server/keys/records'
import en from '../../locales/en/keys.json'
import zh from '../../locales/zh-CN/keys.json'
import {
  emptyKeyForm, isoToLocalInput, KEY_CLIENT_IDS, KEY_LIMIT_FIELDS, KEY_PERMISSIONS, keyExpiresAt, keyFormToPayload,
  type KeyLimitField, keyLimitBars, keyStatus, keyToForm, type KeyUsageDetail, type KeyView, limitPercent, localInputToIso,
  KEY_FORM_FIELDS, splitKeyList,
} from '../../utils/keys'

/** A ValidationError as the browser's $fetch sees it: h3's JSON error body, `data` = the error's JSON. */
const asFetchError = (err: unknown) => ({ data: { message: (err as Error).message, data: JSON.parse(JSON.stringify(err)) as unknown } })

// The UI's copy of the server's key view must stay assignable both ways (checked by vue-tsc).
const _toUi = (v: ApiKeyView): KeyView => v
const _toServer = (v: KeyView): ApiKeyView => v

const KEY: KeyView = {
  id: '5f0c7a4e-8d8e-4a43-9a55-0b6f6b1d2c3e', name: 'team-a', description: 'CI', tags: ['team', 'ci'], isActive: true,
  expiresAt: null, activationDays: 0, permissions: 'claude', allowedModels: ['claude-sonnet-*'], blockedModels: ['claude-opus-*'],
  allowedClients: ['claude_code'], rateLimitWindow: 60, rateLimitRequests: 200, rateLimitTokens: 0, rateLimitCost: 1.5,
  concurrencyLimit: 3, dailyCostLimit: 20, weeklyCostLimit: 0, totalCostLimit: 100, tokenLimit: 1_000_000,
  claudeAccountId: '0b8e7a54-1c1f-4e9b-8c2a-1f2e3d4c5b6a', geminiAccountId: null, dedicatedFallback: true,
  createdAt: '2026-11-01T00:00:00.000Z', updatedAt: '2026-11-01T00:00:00.000Z', lastUsedAt: null, activatedAt: null,
}

const counters = (o: Partial<Record<string, number>> = {}) => ({
  requests: 0, inputTokens: 0, outputTokens: 0, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0, costMicros: 0, aborted: 0, cost: 0, ...o,
})

describe('keys UI helpers', () => {
  it('offers exactly the server\'s client ids', () => {
    expect([...KEY_CLIENT_IDS]).toEqual(CLIENT_IDS)
  })

  it.each([
    ['a, b,,c', ['a', 'b', 'c']],
    ['claude-sonnet-*\n claude-haiku-* \n\n', ['claude-sonnet-*', 'claude-haiku-*']],
    ['x, x\nx', ['x']],
    ['   ', []],
  ])('splitKeyList(%j)', (text, list) => {
    expect(splitKeyList(text)).toEqual(list)
  })

  it('converts the expiry between ISO and the datetime-local value (local time) both ways', () => {
    const local = isoToLocalInput('2026-12-31T13:45:00.000Z')
    expect(local).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d$/)
    expect(localInputToIso(local)).toBe('2026-12-31T13:45:00.000Z')
    expect(isoToLocalInput(null)).toBe('')
    expect(localInputToIso('')).toBeNull()
    expect(localInputToIso('not a date')).toBeNull()
  })

  it('a key survives form → payload unchanged, and the payload passes the server\'s schemas', () => {
    const payload = keyFormToPayload(keyToForm(KEY))
    const { id: _i, createdAt: _c, updatedAt: _u, lastUsedAt: _l, activatedAt: _a, ...settings } = KEY
    expect(payload).toEqual(settings)
    expect(ApiKeyCreateSchema.safeParse(payload).success).toBe(true)
    expect(ApiKeyUpdateSchema.safeParse(payload).success).toBe(true)
  })

  it('an empty form with a name is a valid create body; emptied number inputs mean 0 (off)', () => {
    const form = { ...emptyKeyForm(), name: '  new key ', tags: 'x, y' }
    ;(form as Record<KeyLimitField, unknown>).dailyCostLimit = ''
    const payload = keyFormToPayload(form)
    expect(payload).toMatchObject({ name: 'new key', tags: ['x', 'y'], dailyCostLimit: 0, expiresAt: null, claudeAccountId: null })
    expect(ApiKeyCreateSchema.safeParse(payload).success).toBe(true)
  })

  it('maps the server\'s structured validation errors to form fields', () => {
    const body = { ...keyFormToPayload({ ...emptyKeyForm(), name: 'x', rateLimitRequests: 5 }), concurrencyLimit: -1, tags: ['a,b'] }
    let error: unknown
    try {
      validate(ApiKeyCreateSchema)(body)
    }
    catch (err) {
      error = err
    }
    const errors = formErrors(asFetchError(error), KEY_FORM_FIELDS).fields
    expect(Object.keys(errors).sort()).toEqual(['concurrencyLimit', 'rateLimitWindow', 'tags'])
    expect(errors.rateLimitWindow).toMatch(/required when a window limit is set/)
    expect(errors.tags).toMatch(/commas/)
    expect(formErrors(asFetchError(new ValidationError([{ field: '', message: 'Invalid input' }])), KEY_FORM_FIELDS)).toEqual({ fields: {}, rest: 'Invalid input' })
    expect(formErrors({ data: { message: 'Something else went wrong' } }, KEY_FORM_FIELDS)).toEqual({ fields: {}, rest: 'Something else went wrong' })
  })

  it.each([
    [{ isActive: false }, 'disabled'],
    [{ expiresAt: '2026-11-10T00:00:00Z' }, 'expired'],
    [{ expiresAt: '2026-11-30T00:00:00Z' }, 'active'],
    [{ activationDays: 5, activatedAt: '2026-11-01T00:00:00Z' }, 'expired'],
    [{ activationDays: 30, activatedAt: '2026-11-01T00:00:00Z' }, 'active'],
    [{ activationDays: 5, activatedAt: null }, 'active'],
    [{ isActive: false, expiresAt: '2026-11-10T00:00:00Z' }, 'disabled'],
  ] as const)('keyStatus %j → %s', (patch, status) => {
    expect(keyStatus({ ...KEY, ...patch }, Date.parse('2026-11-20T00:00:00Z'))).toBe(status)
  })

  it('the key ends at the earlier of its date and activation + days', () => {
    expect(keyExpiresAt({ expiresAt: '2026-12-01T00:00:00Z', activationDays: 5, activatedAt: '2026-11-01T00:00:00Z' })).toBe('2026-11-06T00:00:00.000Z')
    expect(keyExpiresAt({ expiresAt: null, activationDays: 5, activatedAt: null })).toBeNull()
  })

  it('lists every limit that is on with its live use; an ended window counts nothing', () => {
    const NO_CACHE = { reads: 0, writes5m: 0, writes1h: 0, uncachedInput: 0, hitRate: null, savedMicros: 0, savedUsd: 0 }
    const now = Date.parse('2026-11-20T10:30:00Z')
    const usage: Pick<KeyUsageDetail, 'usage' | 'state'> = {
      usage: { total: { ...counters({ requests: 9, inputTokens: 400, outputTokens: 100, cost: 12.5 }), models: {} }, daily: [{ date: '2026-11-20', ...counters({ cost: 2.25 }), models: {} }], cache: NO_CACHE },
      state: { window: { startedAt: '2026-11-20T10:00:00Z', resetsAt: '2026-11-20T11:00:00Z', requests: 7, tokens: 300, cost: 0.5 }, concurrency: { inUse: 1, limit: 3 }, weeklyCost: 4 },
    }
    const bars = keyLimitBars(KEY, usage, now)
    expect(bars.map(b => [b.id, b.used, b.limit])).toEqual([
      ['windowRequests', 7, 200], ['windowCost', 0.5, 1.5], ['concurrency', 1, 3], ['dailyCost', 2.25, 20], ['totalCost', 12.5, 100], ['tokens', 500, 1_000_000],
    ])
    expect(bars[0]!.resetsAt).toBe('2026-11-20T11:00:00Z')
    const later = keyLimitBars(KEY, usage, Date.parse('2026-11-20T11:00:01Z'))
    expect(later[0]).toMatchObject({ id: 'windowRequests', used: 0, resetsAt: null })
    // Without a window length, window limits are not enforced, so not shown.
    expect(keyLimitBars({ ...KEY, rateLimitWindow: 0 }, usage, now).map(b => b.id)).not.toContain('windowRequests')
    expect(keyLimitBars({ ...KEY, ...Object.fromEntries(KEY_LIMIT_FIELDS.map(f => [f, 0])) }, usage, now)).toEqual([])
    expect(keyLimitBars(KEY, null, now).every(b => b.used === 0)).toBe(true)
  })

  it.each([[0, 10, 0], [1, 200, 1], [50, 200, 25], [10, 10, 100], [15, 10, 100], [3, 0, 0]])('limitPercent(%d, %d) = %d', (used, limit, pct) => {
    expect(limitPercent(used, limit)).toBe(pct)
  })
})

describe('keys UI messages', () => {
  const flat = (o: object, p = ''): string[] => Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? flat(v, `${p}${k}.`) : [`${p}${k}`]))
  const enKeys = new Set(flat(en))

  it('en and zh-CN have the same keys, and zh-CN is translated', () => {
    expect(flat(zh).sort()).toEqual([...enKeys].sort())
    expect(JSON.stringify(zh)).toMatch(/[\u4E00-\u9FFF]/)
  })

  it('every keys.* message the screen uses exists', () => {
    const files = ['components/keys', 'pages/web/keys'].flatMap(d => readdirSync(resolve(d)).map(f => join(resolve(d), f)))
    const literal = files.flatMap(f => [...readFileSync(f, 'utf8').matchAll(/t\('keys\.([\w.]+)'/g)].map(m => m[1]!))
    const dynamic = [
      ...KEY_LIMIT_FIELDS.flatMap(f => [`fields.${f}.label`, `fields.${f}.help`]),
      ...['claude', 'gemini'].flatMap(p => [`fields.${p}AccountId.label`, `fields.${p}AccountId.help`]),
      ...KEY_CLIENT_IDS.map(c => `clients.${c}`), ...KEY_PERMISSIONS.map(p => `permissions.${p}`),
      ...['active', 'disabled', 'expired'].map(s => `status.${s}`),
      ...['windowRequests', 'windowTokens', 'windowCost', 'concurrency', 'dailyCost', 'weeklyCost', 'totalCost', 'tokens'].map(b => `limits.${b}`),
      ...['name', 'tags', 'status', 'limits', 'usage', 'lastUsed', 'expiry', 'actions'].map(c => `columns.${c}`),
    ]
    expect(literal.length).toBeGreaterThan(50)
    expect([...literal, ...dynamic].filter(k => !enKeys.has(k))).toEqual([])
  })
})
