import { describe, expect, it } from 'vitest'
import { closeHeadroom, emptyWindow, type Headroom, headroomOf, mergeHeadroom } from '../../server/accounts/headroom'
import { headroomFromHeaders, headroomFromUsage } from '../../server/protocols/anthropic/headroom'

const NOW = Date.UTC(2026, 5, 1, 12)
const IN_1H = NOW / 1000 + 3600
const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString()
const h = (fields: Record<string, string | string[]>) => Object.fromEntries(Object.entries(fields).map(([k, v]) => [`anthropic-ratelimit-unified-${k}`, v]))

describe('headroomFromHeaders: the unified rate-limit headers, parsed strictly', () => {
  it.each([
    ['absent: none', {}, null],
    ['unrelated headers only: none', { 'retry-after': '5', 'anthropic-ratelimit-requests-remaining': '3' }, null],
    ['the whole set', h({
      'status': 'allowed_warning', 'reset': String(IN_1H), 'representative-claim': 'five_hour', 'fallback-percentage': '0.5',
      '5h-status': 'allowed_warning', '5h-utilization': '0.91', '5h-reset': String(IN_1H),
      '7d-status': 'allowed', '7d-utilization': '0.3', '7d-reset': String(IN_1H + 86400),
    }), {
      status: 'allowed_warning', resetAt: iso(IN_1H), representativeClaim: 'five_hour', fallbackPercentage: 0.5,
      fiveHour: { utilization: 0.91, resetAt: iso(IN_1H), status: 'allowed_warning' },
      sevenDay: { utilization: 0.3, resetAt: iso(IN_1H + 86400), status: 'allowed' },
      sevenDayOpus: null, sevenDaySonnet: null,
    }],
    ['partial: the 5h window only', h({ '5h-utilization': '0.25' }), {
      status: null, resetAt: null, representativeClaim: null, fallbackPercentage: null,
      fiveHour: { utilization: 0.25, resetAt: null, status: null }, sevenDay: emptyWindow(), sevenDayOpus: null, sevenDaySonnet: null,
    }],
    ['model windows when present', h({ '7d_opus-utilization': '1', '7d_sonnet-status': 'rejected' }), {
      sevenDayOpus: { utilization: 1, resetAt: null, status: null }, sevenDaySonnet: { utilization: null, resetAt: null, status: 'rejected' },
    }],
    ['a repeated header: the first', h({ status: ['rejected', 'allowed'] }), { status: 'rejected' }],
    ['surrounding blanks are trimmed', h({ '5h-utilization': ' 0.5 ' }), { fiveHour: { utilization: 0.5, resetAt: null, status: null } }],
  ] as const)('%s', (_, headers, expected) => {
    const r = headroomFromHeaders(headers as Record<string, string | string[]>, NOW)
    if (expected === null) return expect(r).toBeNull()
    expect(r).toMatchObject({ ...expected, source: 'headers', seenAt: new Date(NOW).toISOString() })
  })

  // Malformed values read as not reported; the headers they came with still count.
  it.each([
    ['a percent where a fraction belongs', '5h-utilization', '45'],
    ['a negative utilisation', '5h-utilization', '-0.1'],
    ['over 1', '5h-utilization', '1.2'],
    ['not a number', '5h-utilization', 'lots'],
    ['an exponent', '5h-utilization', '1e-1'],
    ['hex', '5h-utilization', '0x1'],
    ['infinity', '5h-utilization', 'Infinity'],
    ['an empty value', '5h-utilization', ''],
    ['a reset in milliseconds (years ahead)', '5h-reset', String(NOW + 3600_000)],
    ['a reset before 2020', '5h-reset', '1000'],
    ['a fractional reset', '5h-reset', `${IN_1H}.5`],
    ['an unknown window status', '5h-status', 'maybe'],
  ])('%s is ignored', (_, name, value) => {
    const r = headroomFromHeaders({ ...h({ status: 'allowed' }), ...h({ [name]: value }) }, NOW)
    expect(r?.status).toBe('allowed')
    expect(r?.fiveHour).toEqual(emptyWindow())
  })

  it.each([
    ['an unknown status', 'status', 'fine'],
    ['an unknown claim', 'representative-claim', 'one_day'],
    ['a fallback over 1', 'fallback-percentage', '50'],
  ])('%s is ignored (and alone, nothing is reported)', (_, name, value) => {
    expect(headroomFromHeaders(h({ [name]: value }), NOW)).toBeNull()
  })
})

describe('headroomFromUsage: the OAuth usage endpoint (percentages → fractions)', () => {
  const reset = '2026-06-01T15:00:00.000Z'
  it.each([
    ['five hour and seven day', { five_hour: { utilization: 42, resets_at: reset }, seven_day: { utilization: 7.5, resets_at: null }, seven_day_opus: null },
      { fiveHour: { utilization: 0.42, resetAt: reset, status: null }, sevenDay: { utilization: 0.075, resetAt: null, status: null }, sevenDayOpus: null, sevenDaySonnet: null }],
    ['model windows', { seven_day_sonnet: { utilization: 100, resets_at: reset } },
      { fiveHour: emptyWindow(), sevenDay: emptyWindow(), sevenDaySonnet: { utilization: 1, resetAt: reset, status: null } }],
    ['out-of-range and junk values ignored', { five_hour: { utilization: 140, resets_at: 'soon' }, seven_day: { utilization: '12', resets_at: reset } },
      { fiveHour: emptyWindow(), sevenDay: { utilization: null, resetAt: reset, status: null } }],
  ] as const)('%s', (_, body, expected) => {
    expect(headroomFromUsage(JSON.stringify(body), NOW)).toMatchObject({ ...expected, source: 'usage-endpoint', status: null })
  })

  it.each([['not JSON', 'upstream error'], ['an array', '[]'], ['no windows', '{"five_hour":null}'], ['null', 'null']])('%s: none', (_, body) => {
    expect(headroomFromUsage(body, NOW)).toBeNull()
  })
})

describe('mergeHeadroom / closeHeadroom / headroomOf', () => {
  const fromHeaders = headroomFromHeaders(h({ 'status': 'allowed', 'representative-claim': 'seven_day', '5h-utilization': '0.2' }), NOW)!
  const fromUsage = headroomFromUsage(JSON.stringify({ seven_day_opus: { utilization: 50, resets_at: null } }), NOW + 1000)!

  it('a reading keeps what it does not report from the record before it', () => {
    const merged = mergeHeadroom(fromHeaders, fromUsage)
    expect(merged).toMatchObject({
      status: 'allowed', representativeClaim: 'seven_day', fiveHour: { utilization: 0.2 }, sevenDayOpus: { utilization: 0.5 },
      source: 'usage-endpoint', seenAt: new Date(NOW + 1000).toISOString(),
    })
    expect(mergeHeadroom(null, fromUsage)).toBe(fromUsage)
  })

  it('the same values seen later, or a utilisation drifting within a point, are not worth a write; a point more, a new status or reset is', () => {
    const later: Headroom = { ...fromHeaders, seenAt: new Date(NOW + 5000).toISOString() }
    expect(closeHeadroom(fromHeaders, later)).toBe(true)
    expect(closeHeadroom(fromHeaders, { ...later, fiveHour: { ...later.fiveHour, utilization: 0.2004 } })).toBe(true)
    expect(closeHeadroom(fromHeaders, { ...later, fiveHour: { ...later.fiveHour, utilization: 0.21 } })).toBe(false)
    expect(closeHeadroom(fromHeaders, { ...later, status: 'allowed_warning' })).toBe(false)
    expect(closeHeadroom(fromHeaders, { ...later, fiveHour: { ...later.fiveHour, resetAt: new Date(NOW + 3600_000).toISOString() } })).toBe(false)
    expect(closeHeadroom(undefined, later)).toBe(false)
  })

  it('headroomOf reads the in-process copy', () => {
    expect(headroomOf({ headroom: fromHeaders })).toBe(fromHeaders)
    expect(headroomOf({})).toBeNull()
  })
})
