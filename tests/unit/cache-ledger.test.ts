import { describe, expect, it } from 'vitest'
import { type CacheCounters, cacheLedger, hitRate } from '../../server/usage/ledger'
import { PriceTable } from '../../server/usage/pricing'
import { parseSessions, sessionArgs, SESSION_LEDGER_MAX, SESSION_TOUCH_MS } from '../../server/usage/sessions'

// Claude defaults on a $3/M input: 5m write $3.75/M, 1h write $6/M, read $0.30/M. Per token cached
// instead of uncached: a read saves 2.7 µ$, a 5m write costs 0.75 µ$ more, a 1h write 3 µ$ more.
// Gemini at $1/M input: read defaults to 0.25× ($0.25/M), saves 0.75 µ$ per token.
const table = new PriceTable({
  'claude-x': { input_cost_per_token: 3e-6, output_cost_per_token: 15e-6 },
  'gemini-y': { input_cost_per_token: 1e-6, output_cost_per_token: 4e-6 },
})
const c = (p: Partial<CacheCounters>): CacheCounters => ({ inputTokens: 0, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0, ...p })

describe('prompt-cache ledger', () => {
  it.each([
    ['no usage at all: no rate (no division by zero), nothing saved', [['claude-x', c({})]], null, 0],
    ['no model at all', [], null, 0],
    ['only uncached input', [['claude-x', c({ inputTokens: 1000 })]], 0, 0],
    ['a conversation that wrote and never read costs more', [['claude-x', c({ cacheCreate5m: 1000, inputTokens: 10 })]], 0, -750],
    ['1h writes cost more still', [['claude-x', c({ cacheCreate1h: 2000 })]], 0, -6000],
    ['written once, read 9000', [['claude-x', c({ cacheCreate5m: 1000, cacheRead: 9000, inputTokens: 100 })]], 9000 / 10_100, 24_300 - 750],
    ['only reads', [['claude-x', c({ cacheRead: 500 })]], 1, 1350],
    ['two models priced each at their own price', [['claude-x', c({ cacheRead: 1000 })], ['gemini-y', c({ cacheRead: 1000, inputTokens: 1000 })]], 2000 / 3000, 2700 + 750],
    ['a model without a price saves nothing but its tokens count', [['unknown-z', c({ cacheRead: 1000 })], ['claude-x', c({ inputTokens: 1000 })]], 0.5, 0],
    ['rounded once, half away from zero: +2.7 µ$', [['claude-x', c({ cacheRead: 1 })]], 1, 3],
    ['rounded once, half away from zero: −1.5 µ$', [['claude-x', c({ cacheCreate5m: 2 })]], 0, -2],
    ['summed before rounding: 2.7 − 0.75 × 3 = 0.45 µ$', [['claude-x', c({ cacheRead: 1, cacheCreate5m: 3 })]], 0.25, 0],
  ] as [string, [string, CacheCounters][], number | null, number][])('%s', (_, byModel, rate, savedMicros) => {
    const l = cacheLedger(table, byModel)
    expect(l.hitRate).toBe(rate)
    expect(l.savedMicros).toBe(savedMicros)
    expect(l.savedUsd).toBe(savedMicros / 1e6)
    const sum = (k: keyof CacheCounters) => byModel.reduce((n, [, x]) => n + x[k], 0)
    expect([l.reads, l.writes5m, l.writes1h, l.uncachedInput]).toEqual([sum('cacheRead'), sum('cacheCreate5m'), sum('cacheCreate1h'), sum('inputTokens')])
  })

  it('hit rate counts 5m and 1h writes and uncached input in the denominator', () => {
    expect(hitRate(c({ cacheRead: 1, cacheCreate5m: 1, cacheCreate1h: 1, inputTokens: 1 }))).toBe(0.25)
    expect(hitRate(c({}))).toBeNull()
  })

  it('a provider-prefixed spelling is priced as its model', () => {
    expect(cacheLedger(table, [['anthropic/claude-x', c({ cacheRead: 1000 })]]).savedMicros).toBe(2700)
  })
})

describe('session ledger entries', () => {
  it('groups a key\'s fields by session, skips the touch stamp and entries older than the TTL', () => {
    const s = parseSessions({
      '~t': '1000',
      'abc:claude-x': '2,10,5,100,0,50,900,0|5000',
      'abc:gemini-y': '1,1,1,0,0,0,1,0|7000',
      'old:claude-x': '1,1,1,0,0,0,1,0|100',
      'broken': '1,1|9000',
    }, 1000)
    expect([...s.keys()]).toEqual(['abc'])
    expect(s.get('abc')!.lastMs).toBe(7000)
    expect(s.get('abc')!.models.get('claude-x')).toMatchObject({ requests: 2, inputTokens: 10, cacheCreate5m: 100, cacheRead: 50 })
  })

  it.each([
    ['a session and a TTL', 'h1', 3_600_000, 'h1:claude-x'],
    ['no session', undefined, 3_600_000, ''],
    ['sticky sessions off (TTL 0)', 'h1', 0, ''],
  ] as const)('script arguments with %s', (_, hash, ttl, field) => {
    expect(sessionArgs(hash, 'claude-x', ttl, 42)).toEqual([field, 42, ttl + SESSION_TOUCH_MS, SESSION_TOUCH_MS, SESSION_LEDGER_MAX])
  })
})
