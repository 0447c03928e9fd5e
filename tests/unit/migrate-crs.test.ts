import { createCipheriv, randomBytes, scryptSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { crsProxyUrl, mapCrsAccount } from '../../server/migrate/crs/accounts'
import { CRS_SALTS, CrsDecryptor, CrsSecretFormatError, WrongCrsKeyError } from '../../server/migrate/crs/crypto'
import { crsPermissions, mapCrsKey } from '../../server/migrate/crs/keys'
import { bucketTtlSeconds, crsCounters, crsDayToUtc } from '../../server/migrate/crs/usage'

const SECRET = 'CRS-fixture-encryption-key-32chr'

/** Encrypt as CRS's account services do: scrypt(secret, salt, 32), random 16-byte IV, AES-256-CBC, "ivhex:cipherhex". */
const derived = new Map<string, Buffer>()
function crsEncrypt(plain: string, salt: string, secret = SECRET): string {
  const iv = randomBytes(16)
  const key = derived.get(`${secret}\n${salt}`) ?? derived.set(`${secret}\n${salt}`, scryptSync(secret, salt, 32)).get(`${secret}\n${salt}`)!
  const c = createCipheriv('aes-256-cbc', key, iv)
  return `${iv.toString('hex')}:${c.update(plain, 'utf8', 'hex')}${c.final('hex')}`
}

describe('CrsDecryptor', () => {
  it('decrypts a fixed vector made with node crypto the way CRS does (salt "salt")', () => {
    const vector = '00112233445566778899aabbccddeeff:e34a404c41c9e5c5bca1d7cd6b6dd8a666433351a6882ec18f127d92b2fe34a6'
    expect(new CrsDecryptor(SECRET).decrypt('claude', vector, 'token', 'vector')).toBe('sk-ant-oat01-vector')
  })

  it.each(Object.entries(CRS_SALTS))('round-trips a value of kind %s (salt %s)', (kind, salt) => {
    const plain = `token-${randomBytes(20).toString('hex')}`
    expect(new CrsDecryptor(SECRET).decrypt(kind as keyof typeof CRS_SALTS, crsEncrypt(plain, salt), 'token', 'x')).toBe(plain)
  })

  it('uses each kind\'s own salt: a value of another kind does not decrypt', () => {
    const sealed = crsEncrypt('sk-ant-api03-console', CRS_SALTS.claudeConsole)
    expect(() => new CrsDecryptor(SECRET).decrypt('claude', sealed, 'token', 'x')).toThrow(WrongCrsKeyError)
  })

  it('a wrong secret is detected on every try (padding failure or a plaintext of the wrong shape), naming the field, never the value', () => {
    const dec = new CrsDecryptor('not-the-secret-of-that-deployment')
    for (let i = 0; i < 300; i++) {
      const sealed = crsEncrypt(`sk-ant-oat01-${randomBytes(24).toString('hex')}`, 'salt')
      expect(() => dec.decrypt('claude', sealed, 'token', 'claude-oauth account 1 field accessToken')).toThrow(/does not decrypt claude-oauth account 1 field accessToken/)
    }
  })

  it.each([
    ['token', 'has space'],
    ['json', 'not json'],
    ['text', 'bell\u0007'],
  ] as const)('a %s field whose plaintext is "%s" is taken for a wrong key', (shape, plain) => {
    expect(() => new CrsDecryptor(SECRET).decrypt('claude', crsEncrypt(plain, 'salt'), shape, 'x')).toThrow(WrongCrsKeyError)
  })

  it.each(['plaintext-token', 'zz:zz', '0011:abcd'])('"%s" is not CRS ciphertext', (v) => {
    expect(() => new CrsDecryptor(SECRET).decrypt('claude', v, 'token', 'x')).toThrow(CrsSecretFormatError)
  })

  it('an empty field is empty', () => {
    expect(new CrsDecryptor(SECRET).decrypt('gemini', '', 'token', 'x')).toBe('')
  })
})

const KEY_ID = '11111111-2222-4333-8444-555555555555'
const ACC = '99999999-8888-4777-8666-555555555555'
const crsKey = (fields: Record<string, string>) => ({ id: KEY_ID, name: 'team key', apiKey: 'a'.repeat(64), isActive: 'true', ...fields })

describe('mapCrsKey', () => {
  it.each([
    ['limits', { concurrencyLimit: '3', dailyCostLimit: '10.5', totalCostLimit: '100', rateLimitWindow: '60', rateLimitRequests: '100', rateLimitCost: '5' },
      { concurrencyLimit: 3, dailyCostLimit: 10.5, totalCostLimit: 100, rateLimitWindow: 60, rateLimitRequests: 100, rateLimitCost: 5 }],
    ['CRS tokenLimit is a per-window limit', { rateLimitWindow: '60', tokenLimit: '50000' }, { rateLimitTokens: 50_000, tokenLimit: 0 }],
    ['tokenLimit without a window (not enforced by CRS)', { tokenLimit: '50000' }, { rateLimitTokens: 0, tokenLimit: 0 }],
    ['window limits without a window', { rateLimitRequests: '10' }, { rateLimitRequests: 0 }],
    ['model block-list', { enableModelRestriction: 'true', restrictedModels: '["claude-opus-4-1"]' }, { blockedModels: ['claude-opus-4-1'], allowedModels: [] }],
    ['block-list switched off', { enableModelRestriction: 'false', restrictedModels: '["claude-opus-4-1"]' }, { blockedModels: [] }],
    ['clients', { enableClientRestriction: 'true', allowedClients: '["claude_code","codex_cli"]' }, { allowedClients: ['claude_code'], isActive: true }],
    ['only unknown clients: disabled', { enableClientRestriction: 'true', allowedClients: '["codex_cli"]' }, { allowedClients: [], isActive: false }],
    ['permissions []', { permissions: '[]' }, { permissions: 'all' }],
    ['permissions ["gemini"]', { permissions: '["gemini"]' }, { permissions: 'gemini' }],
    ['permissions ["claude","openai"]', { permissions: '["claude","openai"]' }, { permissions: 'claude', isActive: true }],
    ['permissions ["openai"]: disabled', { permissions: '["openai"]' }, { isActive: false }],
    ['old string permissions', { permissions: 'claude' }, { permissions: 'claude' }],
    ['fixed expiry', { expirationMode: 'fixed', expiresAt: '2030-01-01T00:00:00.000Z' }, { expiresAt: '2030-01-01T00:00:00.000Z', activationDays: 0 }],
    ['activation not yet used', { expirationMode: 'activation', activationDays: '30', isActivated: 'false' }, { activationDays: 30, expiresAt: null }],
    ['activation in hours', { expirationMode: 'activation', activationDays: '36', activationUnit: 'hours', isActivated: 'false' }, { activationDays: 2 }],
    ['activation used: its expiry date', { expirationMode: 'activation', activationDays: '30', isActivated: 'true', activatedAt: '2026-01-01T00:00:00Z', expiresAt: '2026-01-31T00:00:00Z' },
      { activationDays: 0, expiresAt: '2026-01-31T00:00:00.000Z' }],
    ['OAuth binding', { claudeAccountId: ACC }, { claudeAccountId: ACC }],
    ['Console binding', { claudeConsoleAccountId: ACC }, { claudeAccountId: ACC }],
    ['Gemini binding', { geminiAccountId: ACC }, { geminiAccountId: ACC }],
    ['group binding dropped', { claudeAccountId: 'group:abc' }, { claudeAccountId: null }],
    ['tags', { tags: '["a","b,c"]' }, { tags: ['a'] }],
    ['disabled', { isActive: 'false' }, { isActive: false }],
    ['weekly Opus limit not carried', { weeklyOpusCostLimit: '20' }, { weeklyCostLimit: 0 }],
  ])('%s', (_, fields, expected) => {
    const m = mapCrsKey(crsKey(fields))
    expect(m.kind).toBe('key')
    if (m.kind === 'key') expect(m.key.settings).toMatchObject(expected)
  })

  it.each([
    ['tokenLimit without a window', { tokenLimit: '5' }, /tokenLimit/],
    ['weekly Opus', { weeklyOpusCostLimit: '20' }, /weeklyOpusCostLimit/],
    ['group', { claudeAccountId: 'group:abc' }, /account group/],
    ['openai binding', { openaiAccountId: ACC }, /openaiAccountId/],
  ])('reports %s', (_, fields, problem) => {
    const m = mapCrsKey(crsKey(fields))
    expect(m.kind === 'key' && m.problems.some(p => problem.test(p))).toBe(true)
  })

  it('keeps id, CRS hash and dates', () => {
    const m = mapCrsKey(crsKey({ createdAt: '2025-05-01T10:00:00.000Z', lastUsedAt: '2025-06-01T10:00:00.000Z' }))
    expect(m).toMatchObject({ kind: 'key', key: { id: KEY_ID, crsHash: 'a'.repeat(64), createdAt: '2025-05-01T10:00:00.000Z', lastUsedAt: '2025-06-01T10:00:00.000Z' } })
  })

  it.each([
    ['deleted', { isDeleted: 'true' }, 'deleted'],
    ['no UUID', { id: 'abc' }, 'skipped'],
    ['no hash', { apiKey: '' }, 'skipped'],
  ])('%s key → %s', (_, fields, kind) => {
    expect(mapCrsKey(crsKey(fields)).kind).toBe(kind)
  })

  it.each([
    [undefined, 'all', false], ['all', 'all', false], ['["claude","gemini"]', 'all', false], ['claude,gemini', 'all', false], ['["droid"]', 'all', true],
  ])('permissions %s → %s (none: %s)', (raw, permissions, none) => {
    expect(crsPermissions(raw)).toEqual({ permissions, none })
  })
})

describe('crsProxyUrl', () => {
  it.each([
    ['{"type":"socks5","host":"10.0.0.1","port":1080}', 'socks5://10.0.0.1:1080'],
    ['{"type":"http","host":"proxy.example","port":"8080","username":"bob","password":"p@ss:w/rd"}', 'http://bob:p%40ss%3Aw%2Frd@proxy.example:8080'],
    ['{"type":"socks5","host":"::1","port":1080,"username":"u"}', 'socks5://u@[::1]:1080'],
    ['', null],
    ['{"type":"socks5","host":""}', null],
  ])('%s → %s', (raw, url) => {
    expect(crsProxyUrl(raw)).toBe(url)
  })

  it.each(['not json', '{"type":"ftp","host":"h","port":21}', '{"type":"socks5","host":"h"}'])('%s is refused', (raw) => {
    expect(() => crsProxyUrl(raw)).toThrow()
  })

  it('credentials survive the round trip through the URL', () => {
    const u = new URL(crsProxyUrl('{"type":"socks5","host":"h","port":1,"username":"ü s@r","password":"%:/#?@"}')!)
    expect([decodeURIComponent(u.username), decodeURIComponent(u.password)]).toEqual(['ü s@r', '%:/#?@'])
  })
})

describe('mapCrsAccount', () => {
  const dec = new CrsDecryptor(SECRET)
  const base = { id: ACC, name: 'acc', priority: '10', isActive: 'true', schedulable: 'true', accountType: 'shared', createdAt: '2025-01-01T00:00:00.000Z' }

  it('Claude OAuth: tokens, expiry (ms), scopes, e-mail; serves Claude Code only', () => {
    const m = mapCrsAccount('claude-oauth', {
      ...base, accessToken: crsEncrypt('sk-ant-oat01-a', 'salt'), refreshToken: crsEncrypt('sk-ant-ort01-r', 'salt'), email: crsEncrypt('me@example.com', 'salt'),
      expiresAt: '1900000000000', scopes: 'user:inference user:profile', proxy: '{"type":"socks5","host":"h","port":1080}',
    }, dec)
    expect(m).toMatchObject({ kind: 'account', account: {
      id: ACC, platform: 'claude', type: 'oauth', clients: 'claude-code', priority: 10, proxy: 'socks5://h:1080', isActive: true,
      oauth: { accessToken: 'sk-ant-oat01-a', refreshToken: 'sk-ant-ort01-r', expiresAt: 1_900_000_000_000, scopes: ['user:inference', 'user:profile'], email: 'me@example.com' },
    } })
  })

  it.each([
    ['claude-console', { apiUrl: 'https://api.example/', apiKey: crsEncrypt('sk-ant-api03-c', 'claude-console-salt') }, { platform: 'claude', type: 'console', apiUrl: 'https://api.example', apiKey: 'sk-ant-api03-c' }],
    ['gemini-api', { apiKey: crsEncrypt('AIza-k', 'gemini-api-salt'), baseUrl: 'https://generativelanguage.googleapis.com' }, { platform: 'gemini', type: 'api-key', apiUrl: '', apiKey: 'AIza-k' }],
    ['gemini-oauth', { accessToken: crsEncrypt('ya29.a', 'gemini-account-salt'), refreshToken: crsEncrypt('1//r', 'gemini-account-salt'), expiresAt: '2030-01-01T00:00:00.000Z', projectId: 'proj-1' },
      { platform: 'gemini', type: 'oauth', projectId: 'proj-1', oauth: { accessToken: 'ya29.a', refreshToken: '1//r', expiresAt: Date.parse('2030-01-01T00:00:00Z') } }],
  ] as const)('%s', (kind, fields, expected) => {
    expect(mapCrsAccount(kind, { ...base, ...fields }, dec)).toMatchObject({ kind: 'account', account: expected })
  })

  it.each([
    ['not schedulable → inactive', { schedulable: 'false' }, { isActive: false }],
    ['group member → dedicated', { accountType: 'group' }, { accountType: 'dedicated' }],
    ['dedicated', { accountType: 'dedicated' }, { accountType: 'dedicated' }],
  ])('%s', (_, fields, expected) => {
    const m = mapCrsAccount('gemini-api', { ...base, apiKey: crsEncrypt('AIza-k', 'gemini-api-salt'), ...fields }, dec)
    expect(m).toMatchObject({ kind: 'account', account: expected })
  })

  it.each([
    ['an unusable proxy', { proxy: '{"type":"ftp","host":"h","port":1}' }],
    ['Antigravity OAuth', { oauthProvider: 'antigravity' }],
  ])('skips an account with %s', (_, fields) => {
    const m = mapCrsAccount('gemini-oauth', { ...base, refreshToken: crsEncrypt('1//r', 'gemini-account-salt'), ...fields }, dec)
    expect(m.kind).toBe('skipped')
  })

  it('a wrong key throws instead of skipping', () => {
    expect(() => mapCrsAccount('claude-console', { ...base, apiUrl: 'https://a.example', apiKey: crsEncrypt('sk-ant-api03-c', 'claude-console-salt', 'other') }, dec)).toThrow(WrongCrsKeyError)
  })
})

describe('crsDayToUtc', () => {
  it.each([
    ['2026-03-10', 8, '2026-03-10'],
    ['2026-03-10', 0, '2026-03-10'],
    ['2026-03-10', -5, '2026-03-10'],
    ['2026-03-10', 14, '2026-03-09'],
    ['2026-03-10', 13, '2026-03-09'],
    ['2026-03-10', 12, '2026-03-10'],
    ['2026-03-10', -12, '2026-03-11'],
    ['2026-01-01', 14, '2025-12-31'],
    ['2024-03-01', 13, '2024-02-29'],
  ])('%s at UTC offset %d → %s (the UTC day holding most of it)', (date, offset, utc) => {
    expect(crsDayToUtc(date, offset)).toBe(utc)
  })

  it('refuses what is not a date', () => {
    expect(() => crsDayToUtc('2026-3-1', 8)).toThrow()
  })
})

describe('usage helpers', () => {
  it('splits CRS cache writes into 5-minute and 1-hour ones', () => {
    expect(crsCounters({ requests: '2', inputTokens: '10', outputTokens: '20', cacheCreateTokens: '100', ephemeral1hTokens: '30', cacheReadTokens: '7' }, 1500))
      .toEqual({ requests: 2, inputTokens: 10, outputTokens: 20, cacheCreate5m: 70, cacheCreate1h: 30, cacheRead: 7, costMicros: 1500, aborted: 0 })
  })

  it('reads the all-time hash\'s total… names', () => {
    expect(crsCounters({ totalRequests: '5', totalInputTokens: '1', totalCacheCreateTokens: '4' }, 0, 'total')).toMatchObject({ requests: 5, inputTokens: 1, cacheCreate5m: 4 })
  })

  it.each([
    ['day:2026-03-10', '2026-03-10T12:00:00Z', 90.5 * 86_400],
    ['month:2026-03', '2026-03-10T00:00:00Z', (22 + 399) * 86_400],
    ['total', '2026-03-10T00:00:00Z', 0],
  ])('%s written at %s lives as if written on its day', (bucket, now, ttl) => {
    expect(bucketTtlSeconds(bucket, new Date(now))).toBe(ttl)
  })
})
