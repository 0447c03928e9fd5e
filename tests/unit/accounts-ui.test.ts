import { describe, expect, it } from 'vitest'
import { formErrors } from '../../utils/api-errors'
import { formatRemaining } from '../../utils/format'
import {
  accountKindOf, checkCommonForm, headroomBars, setupTokenFields, checkProxyForm, emptyProxyForm, importFields, nextStateEnd,
  parseCredentialsJson, poolSummary, type ProxyForm, proxyFormFromUrl, proxyHostOf, proxyUrlFromForm, servesOthersOnSubscription, stateInfo,
  todayUtcRange, tokenExpiryInfo,
} from '../../utils/accounts'

// The Accounts screen's pure helpers: proxy URL <-> form fields, state and expiry display, pasted
// credentials, server validation errors by field.

const form = (f: Partial<ProxyForm>): ProxyForm => ({ ...emptyProxyForm(), ...f })

describe('proxy URL from form fields', () => {
  it.each([
    [form({ type: 'none', host: 'ignored', port: '1' }), null],
    [form({ type: 'socks5', host: '10.0.0.2', port: '1080' }), 'socks5://10.0.0.2:1080'],
    [form({ type: 'socks5h', host: 'proxy.example', port: '1080', username: 'u' }), 'socks5h://u@proxy.example:1080'],
    [form({ type: 'http', host: ' p.example ', port: ' 8080 ', username: 'me@corp', password: 'p:ss/w@rd#1%' }), 'http://me%40corp:p%3Ass%2Fw%40rd%231%25@p.example:8080'],
    [form({ type: 'https', host: '::1', port: '443', username: 'a', password: 'b' }), 'https://a:b@[::1]:443'],
    [form({ type: 'socks5', host: 'h', port: '1', username: '用户', password: 'pass word' }), 'socks5://%E7%94%A8%E6%88%B7:pass%20word@h:1'],
  ])('%o → %s', (f, url) => {
    expect(proxyUrlFromForm(f)).toBe(url)
  })

  it.each([
    ['socks5://me%40corp:p%3Ass%2Fw%40rd%231%25@p.example:1080', form({ type: 'socks5', host: 'p.example', port: '1080', username: 'me@corp', password: 'p:ss/w@rd#1%' })],
    ['http://127.0.0.1:8080', form({ type: 'http', host: '127.0.0.1', port: '8080' })],
    ['https://a:b@[::1]:443/', form({ type: 'https', host: '::1', port: '443', username: 'a', password: 'b' })],
    ['SOCKS5H://user@h:9', form({ type: 'socks5h', host: 'h', port: '9', username: 'user' })],
    // A redacted view URL reads back with the placeholder as its password.
    ['socks5://user:***@h:1080', form({ type: 'socks5', host: 'h', port: '1080', username: 'user', password: '***' })],
    ['ftp://h:21', emptyProxyForm()],
    ['not a url', emptyProxyForm()],
    ['', emptyProxyForm()],
    [null, emptyProxyForm()],
  ])('parses %s', (url, expected) => {
    expect(proxyFormFromUrl(url)).toEqual(expected)
  })

  it('round-trips every character a password may hold', () => {
    const f = form({ type: 'socks5', host: 'h.example', port: '1080', username: 'u:@/?#[]%', password: '!*\'();:@&=+$,/?#[] %' })
    expect(proxyFormFromUrl(proxyUrlFromForm(f))).toEqual(f)
  })

  it.each([
    ['socks5://user:***@10.1.2.3:1080', '10.1.2.3:1080'],
    ['http://[::1]:8080', '[::1]:8080'],
    [null, null],
  ])('table shows the host of %s', (url, host) => {
    expect(proxyHostOf(url)).toBe(host)
  })

  it.each([
    [form({}), null],
    [form({ type: 'socks5', port: '1080' }), 'proxyHost'],
    [form({ type: 'socks5', host: 'h', port: '' }), 'proxyPort'],
    [form({ type: 'socks5', host: 'h', port: '70000' }), 'proxyPort'],
    [form({ type: 'socks5', host: 'h', port: '1e3' }), 'proxyPort'],
    [form({ type: 'http', host: 'h', port: '3128' }), null],
  ])('checks %o → %s', (f, key) => {
    expect(checkProxyForm(f)).toBe(key)
  })
})

describe('state, countdown and expiry', () => {
  const now = Date.parse('2026-11-29T12:00:00Z')

  it.each([
    [0, '0s'],
    [999, '1s'],
    [59_000, '59s'],
    [61_000, '1m 01s'],
    [3_599_000, '59m 59s'],
    [2 * 3_600_000 + 5 * 60_000, '2h 05m'],
    [26 * 3_600_000, '1d 2h'],
    [-5000, '0s'],
  ])('formatRemaining(%i) = %s', (ms, text) => {
    expect(formatRemaining(ms)).toBe(text)
  })

  it('formats with the locale\'s units', () => {
    expect(formatRemaining(3 * 60_000 + 7000, (u, n) => `${n}${{ d: '天', h: '小时', m: '分', s: '秒' }[u]}`)).toBe('3分 07秒')
  })

  it('shows cause and time left of a state that has not ended', () => {
    const s = stateInfo({ state: 'cooldown', reason: 'upstream 500', since: '2026-11-29T11:59:00Z', until: '2026-11-29T12:04:10Z' }, now)
    expect(s).toEqual({ state: 'cooldown', reason: 'upstream 500', endsAt: Date.parse('2026-11-29T12:04:10Z'), remainingMs: 250_000 })
  })

  it('reads a state whose end has passed as active, and one without an end as lasting until reset', () => {
    expect(stateInfo({ state: 'rate_limited', reason: 'x', until: '2026-11-29T11:00:00Z' }, now).state).toBe('active')
    expect(stateInfo({ state: 'error', reason: 'invalid_grant', until: null }, now)).toMatchObject({ state: 'error', endsAt: null, remainingMs: null })
    expect(stateInfo({ state: 'active' }, now)).toMatchObject({ state: 'active', reason: '' })
  })

  it('finds the next state end after a time', () => {
    const accounts = [
      { status: { state: 'active' as const } },
      { status: { state: 'cooldown' as const, until: '2026-11-29T12:05:00Z' } },
      { status: { state: 'rate_limited' as const, until: '2026-11-29T12:01:00Z' } },
      { status: { state: 'overloaded' as const, until: '2026-11-29T11:00:00Z' } },
      { status: { state: 'error' as const, until: null } },
    ]
    expect(nextStateEnd(accounts, now)).toBe(Date.parse('2026-11-29T12:01:00Z'))
    expect(nextStateEnd(accounts.slice(3), now)).toBeNull()
  })

  it('token expiry: remaining, expired, unknown', () => {
    const oauth = (expiresAt: string | null) => ({ expiresAt, scopes: [], email: null, organization: null })
    expect(tokenExpiryInfo(oauth('2026-11-29T13:00:00Z'), now)).toEqual({ at: now + 3_600_000, remainingMs: 3_600_000, expired: false })
    expect(tokenExpiryInfo(oauth('2026-11-29T11:00:00Z'), now)?.expired).toBe(true)
    expect(tokenExpiryInfo(oauth(null), now)).toBeNull()
    expect(tokenExpiryInfo(null, now)).toBeNull()
  })

  it('today is the UTC day so far (the usage buckets are UTC)', () => {
    expect(todayUtcRange(new Date('2026-11-29T03:04:05.000Z'))).toEqual({ from: '2026-11-29T00:00:00.000Z', to: '2026-11-29T03:04:05.000Z' })
  })
})

describe('setup tokens and headroom', () => {
  it.each([
    ['a day given: its end (UTC)', { accessToken: ' sk-ant-oat01-x ', expiresOn: '2027-06-30' }, { accessToken: 'sk-ant-oat01-x', expiresAt: '2027-06-30T23:59:59Z' }],
    ['no day: unknown', { accessToken: 't', expiresOn: '' }, { accessToken: 't' }],
    ['a half-typed day: left out', { accessToken: 't', expiresOn: '2027-6' }, { accessToken: 't' }],
  ])('%s', (_, form, body) => {
    expect(setupTokenFields(form)).toEqual(body)
  })

  const NOW = Date.UTC(2026, 5, 1, 12)
  const inMin = (m: number) => new Date(NOW + m * 60_000).toISOString()
  const w = (utilization: number | null, resetAt: string | null = inMin(60), status: string | null = null) => ({ utilization, resetAt, status })
  const headroom = (windows: Record<string, ReturnType<typeof w> | null>) => ({ fiveHour: w(null), sevenDay: w(null), sevenDayOpus: null, sevenDaySonnet: null, ...windows })
  const bar = (key: string, used: number, level: string, resetAt: number | null = NOW + 3_600_000, reset = false) => ({ key, used, level, resetAt, reset })
  it.each([
    ['none reported', null, []],
    ['both windows: normal below 80 %, amber from 80 %', headroom({ fiveHour: w(0.374), sevenDay: w(0.8) }), [bar('fiveHour', 0.374, 'ok'), bar('sevenDay', 0.8, 'warn')]],
    ['red from 95 %', headroom({ fiveHour: w(0.949), sevenDay: w(0.95) }), [bar('fiveHour', 0.949, 'warn'), bar('sevenDay', 0.95, 'over')]],
    ['the 7-day window only', headroom({ sevenDay: w(1) }), [bar('sevenDay', 1, 'over')]],
    ['rejected: red at any share; without a share, full', headroom({ fiveHour: w(0.5, inMin(60), 'rejected'), sevenDay: w(null, inMin(60), 'rejected') }), [bar('fiveHour', 0.5, 'over'), bar('sevenDay', 1, 'over')]],
    ['past its reset: empty and marked', headroom({ fiveHour: w(0.97, inMin(-1), 'rejected') }), [bar('fiveHour', 0, 'ok', NOW - 60_000, true)]],
    ['no reset reported', headroom({ fiveHour: w(0.2, null) }), [bar('fiveHour', 0.2, 'ok', null)]],
    ['Opus and Sonnet weekly shares when present', headroom({ sevenDay: w(0.3), sevenDayOpus: w(0.9), sevenDaySonnet: w(null) }), [bar('sevenDay', 0.3, 'ok'), bar('sevenDayOpus', 0.9, 'warn')]],
    ['an overrun is a full bar', headroom({ fiveHour: w(1.3) }), [bar('fiveHour', 1, 'over')]],
  ] as const)('headroom bars: %s', (_, h, expected) => {
    expect(headroomBars(h as Parameters<typeof headroomBars>[0], NOW)).toEqual(expected)
  })
})

describe('kinds, pools, forms', () => {
  it.each([
    ['claude', 'oauth', 'claudeOauth'],
    ['claude', 'setup-token', 'claudeSetupToken'],
    ['claude', 'console', 'claudeConsole'],
    ['gemini', 'oauth', 'geminiOauth'],
    ['gemini', 'api-key', 'geminiApiKey'],
  ] as const)('%s %s → %s', (platform, type, kind) => {
    expect(accountKindOf({ platform, type })).toBe(kind)
  })

  it.each([
    ['claude', 'oauth', 'any', true],
    ['claude', 'oauth', 'claude-code', false],
    ['claude', 'setup-token', 'any', true],
    ['claude', 'console', 'any', false],
    ['gemini', 'oauth', undefined, false],
  ] as const)('%s %s serving %s → warned that Anthropic refuses other clients: %s', (platform, type, clients, warned) => {
    expect(servesOthersOnSubscription({ platform, type, clients })).toBe(warned)
  })

  it('summarises the API origin of a pool', () => {
    const origin = (o: string, open: number, error: string | null = null) => ({ origin: o, open, idle: open, busy: 0, warmTarget: 3, lastError: error ? { message: error, at: '' } : null })
    expect(poolSummary({ accountId: 'a', healthy: false, origins: [origin('https://api', 0, 'ECONNREFUSED'), origin('https://token', 1)] }))
      .toEqual({ open: 0, target: 3, healthy: false, lastError: 'ECONNREFUSED' })
    expect(poolSummary(undefined)).toBeNull()
  })

  it.each([
    [{ name: 'a', description: '', priority: 50, accountType: 'shared' as const }, {}],
    [{ name: '  ', description: '', priority: 50, accountType: 'shared' as const }, { name: 'nameRequired' }],
    [{ name: 'x'.repeat(101), description: '', priority: 1001, accountType: 'shared' as const }, { name: 'nameTooLong', priority: 'priorityRange' }],
    [{ name: 'a', description: '', priority: 1.5, accountType: 'dedicated' as const }, { priority: 'priorityRange' }],
  ])('checks the common fields %#', (f, errors) => {
    expect(checkCommonForm(f)).toEqual(errors)
  })

  it('splits structured validation errors by field', () => {
    const fetchError = (fields: { field: string, message: string }[]) => ({ data: { message: 'x', data: { fields } } })
    expect(formErrors(fetchError([{ field: 'name', message: 'name is required' }, { field: 'apiUrl', message: 'must be an http(s) URL' }, { field: '', message: 'type must be "console"' }]), ['name', 'apiUrl']))
      .toEqual({ fields: { name: 'name is required', apiUrl: 'must be an http(s) URL' }, rest: 'type must be "console"' })
    expect(formErrors(fetchError([{ field: 'scopes.0', message: 'too long' }, { field: 'scopes.1', message: 'too long' }]), ['scopes'])).toEqual({ fields: { scopes: 'too long; too long' }, rest: '' })
    expect(formErrors(fetchError([{ field: 'region', message: 'unknown' }]), ['name'])).toEqual({ fields: {}, rest: 'region: unknown' })
    expect(formErrors({ data: { message: 'The authorization code was refused (invalid_grant).' } }, ['code'])).toEqual({ fields: {}, rest: 'The authorization code was refused (invalid_grant).' })
  })

  it('import fields: expiry as ms or ISO, empty fields left out', () => {
    expect(importFields({ refreshToken: ' rt ', accessToken: '', expiresAt: '1796083200000', scopes: [] })).toEqual({ refreshToken: 'rt', expiresAt: 1796083200000 })
    expect(importFields({ refreshToken: 'rt', accessToken: 'at', expiresAt: '2026-12-31T00:00:00Z', scopes: ['a'] }))
      .toEqual({ refreshToken: 'rt', accessToken: 'at', expiresAt: '2026-12-31T00:00:00Z', scopes: ['a'] })
  })
})

describe('pasted credentials files', () => {
  it('reads Claude Code\'s .credentials.json', () => {
    const file = { claudeAiOauth: { accessToken: 'sk-ant-oat01-a', refreshToken: 'sk-ant-ort01-r', expiresAt: 1796083200000, scopes: ['user:inference', 'user:profile'], subscriptionType: 'max' } }
    expect(parseCredentialsJson(JSON.stringify(file))).toEqual({ accessToken: 'sk-ant-oat01-a', refreshToken: 'sk-ant-ort01-r', expiresAt: 1796083200000, scopes: ['user:inference', 'user:profile'] })
    expect(parseCredentialsJson(JSON.stringify(file.claudeAiOauth)).refreshToken).toBe('sk-ant-ort01-r')
  })

  it('reads Gemini CLI\'s oauth_creds.json', () => {
    const file = { access_token: 'ya29.a', refresh_token: '1//r', scope: 'https://www.googleapis.com/auth/cloud-platform openid', token_type: 'Bearer', id_token: 'x.y.z', expiry_date: 1796083200000 }
    expect(parseCredentialsJson(JSON.stringify(file))).toEqual({ accessToken: 'ya29.a', refreshToken: '1//r', expiresAt: 1796083200000, scopes: ['https://www.googleapis.com/auth/cloud-platform', 'openid'] })
  })

  it.each([
    [{ refresh_token: 'r', expires_at: 1796083200 }, 1796083200000],
    [{ refresh_token: 'r', expiry: '2026-12-31T00:00:00Z' }, Date.parse('2026-12-31T00:00:00Z')],
    [{ refresh_token: 'r', expiry_date: 'soon' }, undefined],
  ])('expiry in seconds, ms or as a date: %o', (file, expiresAt) => {
    expect(parseCredentialsJson(JSON.stringify(file)).expiresAt).toBe(expiresAt)
  })

  it.each([
    ['{not json', 'invalid-json'],
    ['"a string"', 'invalid-json'],
    ['{"access_token":"a"}', 'no-refresh-token'],
    ['{"claudeAiOauth":{"refreshToken":"  "}}', 'no-refresh-token'],
  ])('refuses %s', (text, message) => {
    expect(() => parseCredentialsJson(text)).toThrow(message)
  })
})
