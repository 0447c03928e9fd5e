import { describe, expect, it } from 'vitest'
import type { Account, AccountClients } from '../../server/accounts/store'
import { defaultClients } from '../../server/accounts/store'
import { whyUnavailable } from '../../server/accounts/unavailable'
import { clientExclusion, isClaudeCode } from '../../server/protocols/anthropic/clients'

const T0 = 1_700_000_000_000

/** A Claude account as the scheduler holds it (only the fields the exclusion and the message read). */
function acc(id: string, type: 'oauth' | 'console', more: Partial<Account> = {}): Account {
  return {
    id, platform: 'claude', type, name: `acc-${id}`, description: '', apiUrl: '', apiKey: '', oauth: null, projectId: null, priority: 50,
    isActive: true, accountType: 'shared', clients: defaultClients('claude', type), proxy: null, createdAt: '', updatedAt: '', lastUsedAt: null, ...more,
  }
}
const oauthAny = (id: string) => acc(id, 'oauth', { clients: 'any' })
const limited = (a: Account, forMs: number): Account => ({ ...a, state: { state: 'rate_limited', reason: 'upstream 429', since: T0 - 1000, until: T0 + forMs } })
const NO_BINDING: { boundTo: string | null, fallback: boolean } = { boundTo: null, fallback: false }

describe('isClaudeCode', () => {
  it.each([
    ['claude-cli/2.0.0 (external, cli)', true],
    ['claude-cli/1.0.119 (external, sdk-ts)', true],
    ['Anthropic/JS 0.60.0', false],
    ['SillyTavern/1.12', false],
    ['curl/8.5', false],
    [undefined, false],
  ])('%s → %s', (ua, expected) => {
    expect(isClaudeCode(ua)).toBe(expected)
  })
})

describe('defaultClients (accounts stored without the setting)', () => {
  it.each([
    ['claude', 'oauth', 'claude-code'],
    ['claude', 'console', 'any'],
    ['gemini', 'oauth', 'any'],
    ['gemini', 'api-key', 'any'],
  ] as const)('%s %s → %s', (platform, type, expected) => {
    expect(defaultClients(platform, type)).toBe(expected)
  })
})

describe('clientExclusion', () => {
  it.each<[string, Account[], boolean, string[] | null]>([
    ['OAuth-only pool, SDK request: every account excluded', [acc('o1', 'oauth'), acc('o2', 'oauth')], false, ['o1', 'o2']],
    ['OAuth-only pool, Claude Code: nothing excluded', [acc('o1', 'oauth')], true, null],
    ['Console-only pool, SDK request: nothing excluded', [acc('c1', 'console')], false, null],
    ['mixed pool, SDK request: only the OAuth account', [acc('o1', 'oauth'), acc('c1', 'console')], false, ['o1']],
    ['OAuth set to any, SDK request: nothing excluded', [oauthAny('o1')], false, null],
    ['Console set to claude-code, SDK request: excluded', [acc('c1', 'console', { clients: 'claude-code' as AccountClients })], false, ['c1']],
  ])('%s', (_label, accounts, fromClaudeCode, expected) => {
    const ex = clientExclusion(accounts, fromClaudeCode)
    expect(ex ? [...ex.ids].sort() : null).toEqual(expected)
  })
})

describe('whyUnavailable with the client exclusion', () => {
  const sdk = (accounts: Account[], binding = NO_BINDING) => whyUnavailable('claude', accounts, binding, clientExclusion(accounts, false), T0)

  it('OAuth-only pool, SDK request: says what it needs, no retry-after, the admin log names who was passed over and why', () => {
    const why = sdk([acc('o1', 'oauth'), acc('o2', 'oauth')])
    expect(why.message).toBe('No Claude account can serve this request: it needs an account that accepts any client (a Console API-key account); '
      + 'every active Claude account serves Claude Code only (ask the admin).')
    expect(why.retryAfter).toBeNull()
    expect(why.detail).toBe('acc-o1 (o1): passed over, serves Claude Code only; acc-o2 (o2): passed over, serves Claude Code only')
  })

  it('OAuth-only pool, one rate limited: still the exclusion (waiting would not help)', () => {
    const why = sdk([limited(acc('o1', 'oauth'), 60_000), acc('o2', 'oauth')])
    expect(why.message).toMatch(/accepts any client/)
    expect(why.retryAfter).toBeNull()
  })

  it('mixed pool, the Console account rate limited: retry after its end only (the OAuth account never counts)', () => {
    const why = sdk([acc('o1', 'oauth'), limited(acc('c1', 'console'), 30_000)])
    expect(why.message).toBe('No Claude account can serve this request right now: every account is rate limited or out of service; try again in 30 s.')
    expect(why.retryAfter).toBe(30)
    expect(why.detail).toMatch(/^acc-o1 \(o1\): passed over, serves Claude Code only; acc-c1 \(c1\): rate_limited until /)
  })

  it.each<[string, Account[]]>([
    ['Console-only pool', [limited(acc('c1', 'console'), 5000)]],
    ['OAuth set to any', [limited(oauthAny('o1'), 5000)]],
  ])('%s, rate limited: the usual retry-after, nothing passed over', (_label, accounts) => {
    const why = sdk(accounts)
    expect(why.retryAfter).toBe(5)
    expect(why.detail).not.toMatch(/passed over/)
  })

  it.each<[string, { boundTo: string, fallback: boolean }, RegExp]>([
    ['bound to an OAuth account, no fallback', { boundTo: 'd1', fallback: false },
      /^No Claude account can serve this request: it needs an account that accepts any client \(a Console API-key account\); the Claude account dedicated to this API key serves Claude Code only \(ask the admin\)\.$/],
    ['bound to an OAuth account, fallback to an OAuth-only pool', { boundTo: 'd1', fallback: true },
      /; every active Claude account serves Claude Code only \(ask the admin\)\.$/],
  ])('dedicated binding: %s', (_label, binding, expected) => {
    const why = sdk([acc('d1', 'oauth', { accountType: 'dedicated' }), acc('o1', 'oauth')], binding)
    expect(why.message).toMatch(expected)
    expect(why.retryAfter).toBeNull()
  })

  it('without an exclusion the messages are unchanged (busy, then none active)', () => {
    expect(whyUnavailable('claude', [acc('o1', 'oauth')], NO_BINDING, null, T0).message).toMatch(/right now: every account is busy/)
    expect(whyUnavailable('claude', [], NO_BINDING, null, T0).message).toMatch(/no active Claude account/)
  })

  it('Gemini CLI on API-key accounts only: the Gemini wording', () => {
    const g = { ...acc('g1', 'console'), platform: 'gemini' as const, type: 'api-key' as const }
    const why = whyUnavailable('gemini', [g], NO_BINDING, { ids: new Set(['g1']), need: 'Gemini CLI\'s calls need a Gemini OAuth account', passedOver: 'is an API-key account' }, T0)
    expect(why.message).toBe('No Gemini account can serve this request: Gemini CLI\'s calls need a Gemini OAuth account; every active Gemini account is an API-key account (ask the admin).')
  })
})
