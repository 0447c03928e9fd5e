import { describe, expect, it } from 'vitest'
import { coveringBuckets } from '../../server/usage/stats'
import { checkAccess, detectClient, globMatch } from '../../server/keys/access'
import type { ApiKeyRecord } from '../../server/keys/records'
import { fromHash } from '../../server/keys/records'
import { addCounters, addPacked, bucketIds, packDelta, totalTokens, unpack, weekId, zeroCounters } from '../../server/usage/buckets'

const key = (over: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({ ...fromHash({ id: 'k1', name: 'k' })!, ...over })

describe('globMatch', () => {
  it.each([
    ['claude-sonnet-*', 'claude-sonnet-4-5', true],
    ['claude-sonnet-*', 'claude-opus-4-1', false],
    ['*opus*', 'claude-opus-4-1-20250805', true],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku-20241022', true],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku-20241022x', false],
    ['claude.3', 'claudex3', false],
    ['CLAUDE-*', 'claude-x', true],
    ['*', 'anything', true],
    ['gemini-(2)*', 'gemini-(2)-flash', true],
  ])('%s vs %s → %s', (pattern, value, expected) => {
    expect(globMatch(pattern, value)).toBe(expected)
  })
})

describe('detectClient', () => {
  it.each([
    ['claude-cli/1.0.119 (external, cli)', 'claude_code'],
    ['GeminiCLI/0.1.5 (linux; x64)', 'gemini_cli'],
    ['Anthropic/JS 0.54.0', 'anthropic_sdk'],
    ['OpenAI/Python 1.99.1', 'openai_sdk'],
    ['google-genai-sdk/1.10.0 gl-node/v20.20.2', 'google_genai_sdk'],
    ['curl/8.5.0', null],
    [undefined, null],
  ])('%s → %s', (ua, id) => {
    expect(detectClient(ua)).toBe(id)
  })
})

describe('checkAccess', () => {
  it('allows everything by default', () => {
    expect(checkAccess(key(), 'claude', 'claude-opus-4-1', 'curl/8')).toBeNull()
  })
  it.each([
    [{ permissions: 'gemini' as const }, 'claude-sonnet-4-5', 'curl/8', /only be used for gemini/],
    [{ allowedModels: ['claude-sonnet-*'] }, 'claude-opus-4-1', 'curl/8', /not allowed/],
    [{ blockedModels: ['*opus*'] }, 'claude-opus-4-1', 'curl/8', /blocked/],
    [{ allowedClients: ['claude_code'] }, 'claude-sonnet-4-5', 'curl/8', /restricted to these clients: claude_code/],
    [{ allowedClients: ['claude_code'] }, 'claude-sonnet-4-5', undefined, /restricted/],
  ])('refuses %o for %s (%s)', (over, model, ua, message) => {
    const d = checkAccess(key(over), 'claude', model, ua)
    expect(d?.status).toBe(403)
    expect(d?.message).toMatch(message)
  })
  it('an allow-list lets its matches through, and the block-list still wins', () => {
    const k = key({ allowedModels: ['claude-*'], blockedModels: ['claude-opus-*'], allowedClients: ['claude_code'] })
    expect(checkAccess(k, 'claude', 'claude-sonnet-4-5', 'claude-cli/1.0 (external, cli)')).toBeNull()
    expect(checkAccess(k, 'claude', 'claude-opus-4-1', 'claude-cli/1.0 (external, cli)')?.status).toBe(403)
  })
})

describe('packed counters', () => {
  const usage = { inputTokens: 10, outputTokens: 20, cacheCreate5m: 3, cacheCreate1h: 4, cacheRead: 5 }
  it('round-trips a delta', () => {
    expect(unpack(packDelta(usage, 1234, true))).toEqual({ requests: 1, ...usage, costMicros: 1234, aborted: 1 })
  })
  it('reads missing and malformed values as zero', () => {
    expect(unpack(null)).toEqual(zeroCounters())
    expect(unpack('3,x')).toEqual({ ...zeroCounters(), requests: 3 })
  })
  it('adds and totals tokens', () => {
    const sum = addCounters(unpack(packDelta(usage, 1, false)), unpack(packDelta(usage, 2, true)))
    expect(sum).toMatchObject({ requests: 2, inputTokens: 20, costMicros: 3, aborted: 1 })
    expect(totalTokens(usage)).toBe(42)
  })
})

describe('bucket ids', () => {
  it('are UTC hour, day and month', () => {
    expect(bucketIds(new Date('2026-11-29T23:59:59.999Z'))).toEqual({ minute: '2026-11-29T23:59', hour: '2026-11-29T23', day: '2026-11-29', month: '2026-11' })
  })
  it.each([
    ['2026-11-30T00:00:00Z', '2026-11-30'], // a Monday
    ['2026-11-29T23:00:00Z', '2026-11-23'], // Sunday belongs to the week that began Monday 23rd
    ['2027-01-01T12:00:00Z', '2026-12-28'], // across a year
  ])('week of %s starts %s', (at, monday) => {
    expect(weekId(new Date(at))).toBe(monday)
  })
})

describe('addPacked', () => {
  it.each([
    ['1,25,17,0,0,0,1234,0'],
    ['12,0,99999999,3,4,5,123456789012,1'],
    ['7'],
    [''],
  ])('adds %s like unpack does', (packed) => {
    const base = unpack('1,1,1,1,1,1,1,1')
    const want = addCounters(unpack('1,1,1,1,1,1,1,1'), unpack(packed))
    expect(addPacked(base, packed)).toEqual(want)
  })
})

describe('coveringBuckets', () => {
  const days = (from: string, n: number) => Array.from({ length: n }, (_, i) => `usage:day:${new Date(Date.parse(from) + i * 86_400_000).toISOString().slice(0, 10)}`)
  const now = new Date('2026-11-29T10:00:00Z')
  it.each([
    ['a month to date is one month bucket', '2026-10-31T00:00:00Z', '2026-11-29T10:00:00Z', ['usage:day:2026-10-31', 'usage:month:2026-11']],
    ['a range starting mid-month reads days', '2026-11-02T00:00:00Z', '2026-11-29T10:00:00Z', days('2026-11-02', 28)],
    ['whole past months are month buckets', '2026-09-15T00:00:00Z', '2026-11-29T10:00:00Z', [...days('2026-09-15', 16), 'usage:month:2026-10', 'usage:month:2026-11']],
    ['a range ending before now reads days', '2026-11-01T00:00:00Z', '2026-11-10T12:00:00Z', days('2026-11-01', 10)],
    ['a whole past month', '2026-10-01T00:00:00Z', '2026-10-31T23:59:59.999Z', ['usage:month:2026-10']],
    ['a range in the future reads nothing past now', '2026-11-28T05:00:00Z', '2026-12-31T00:00:00Z', days('2026-11-28', 2)],
  ])('%s', (_, from, to, want) => {
    expect(coveringBuckets(new Date(from), new Date(to), now)).toEqual(want)
  })
})
