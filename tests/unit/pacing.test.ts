import { describe, expect, it } from 'vitest'
import { emptyWindow, type Headroom, type HeadroomWindow } from '../../server/accounts/headroom'
import { modelFamily, nearLimit, NEUTRAL_PACE, pace } from '../../server/accounts/pacing'
import { pickAccount } from '../../server/accounts/scheduler'

const NOW = Date.parse('2026-12-07T12:00:00Z')
const HOUR = 3600_000
const at = (ms: number) => new Date(NOW + ms).toISOString()
const win = (utilization: number | null, resetInMs: number | null): HeadroomWindow => ({ utilization, resetAt: resetInMs === null ? null : at(resetInMs), status: null })
const room = (parts: Partial<Headroom>): Headroom => ({
  fiveHour: emptyWindow(), sevenDay: emptyWindow(), sevenDayOpus: null, sevenDaySonnet: null, status: null, resetAt: null,
  representativeClaim: null, fallbackPercentage: null, seenAt: at(0), source: 'headers', ...parts,
})

describe('pace: headroom left per share of the window\'s time left (tightest window decides)', () => {
  it.each([
    ['no headroom reported (Console key, first request)', null, NEUTRAL_PACE],
    ['nothing used, the whole 5 h ahead', room({ fiveHour: win(0, 5 * HOUR) }), 1],
    ['half used, half the time left: on pace', room({ fiveHour: win(0.5, 2.5 * HOUR) }), 1],
    ['half used, 1 h left: room to spare', room({ fiveHour: win(0.5, HOUR) }), 2.5],
    ['90 % used, 4 h left: would run out early', room({ fiveHour: win(0.9, 4 * HOUR) }), 0.125],
    ['all used', room({ fiveHour: win(1, HOUR) }), 0],
    ['a window past its reset has started over (ignored)', room({ fiveHour: win(0.99, -HOUR) }), NEUTRAL_PACE],
    ['the weekly window binds when it is tighter', room({ fiveHour: win(0.1, 4.5 * HOUR), sevenDay: win(0.9, 3.5 * 24 * HOUR) }), 0.2],
    ['a reset only seconds away counts as a minute', room({ fiveHour: win(0.5, 1000) }), 0.5 / (60_000 / (5 * HOUR))],
  ])('%s', (_, h, expected) => {
    expect(pace(h, null, NOW)).toBeCloseTo(expected, 6)
  })

  it('an Opus request also minds the weekly Opus share; a Sonnet request does not', () => {
    const h = room({ fiveHour: win(0.1, 4.5 * HOUR), sevenDayOpus: win(0.95, 3.5 * 24 * HOUR) })
    expect(pace(h, 'opus', NOW)).toBeCloseTo(0.1, 6)
    expect(pace(h, 'sonnet', NOW)).toBeCloseTo(1, 6)
    expect([modelFamily('claude-opus-4-1-20250805'), modelFamily('claude-sonnet-4-5'), modelFamily('claude-haiku-4-5')]).toEqual(['opus', 'sonnet', null])
  })
})

describe('nearLimit', () => {
  it.each([
    ['unknown', null, false],
    ['below the limit', room({ fiveHour: win(0.94, HOUR) }), false],
    ['at the limit', room({ fiveHour: win(0.95, HOUR) }), true],
    ['weekly over the limit', room({ sevenDay: win(0.97, 24 * HOUR) }), true],
    ['over the limit but the window has reset', room({ fiveHour: win(0.99, -1000) }), false],
    ['refused by Anthropic until a future reset', room({ status: 'rejected', resetAt: at(HOUR) }), true],
    ['refused, but that reset has passed', room({ status: 'rejected', resetAt: at(-HOUR) }), false],
  ])('%s', (_, h, expected) => {
    expect(nearLimit(h, null, 0.95, NOW)).toBe(expected)
  })
})

describe('pickAccount with headroom', () => {
  const account = (id: string, h: Headroom | null, priority = 50) => ({ id, priority, isActive: true, headroom: h })
  const opts = {
    pace: (a: { headroom: Headroom | null }) => pace(a.headroom, null, NOW),
    nearLimit: (a: { headroom: Headroom | null }) => nearLimit(a.headroom, null, 0.95, NOW),
  }

  it('prefers the account that can spend fastest before its reset, least recently used among near-equals', () => {
    const accounts = [account('a', room({ fiveHour: win(0.8, 4 * HOUR) })), account('b', room({ fiveHour: win(0.5, HOUR) })), account('c', room({ fiveHour: win(0.5, 1.05 * HOUR) }))]
    const used = new Map<string, number>()
    const picks = [1, 2, 3, 4].map(i => pickAccount(accounts, used, NOW + i, undefined, opts)!.id)
    expect(picks).toEqual(['b', 'c', 'b', 'c'])
  })

  it('an account near its limit leaves the pool while another can serve, and comes back when none can', () => {
    const full = account('full', room({ fiveHour: win(0.96, 10 * 60_000) }))
    const other = account('other', room({ fiveHour: win(0.9, 4 * HOUR) }))
    expect(pickAccount([full, other], new Map(), NOW, undefined, opts)!.id).toBe('other')
    expect(pickAccount([full, other], new Map(), NOW, new Set(['other']), opts)!.id).toBe('full')
  })

  it('priority still comes first', () => {
    const accounts = [account('spare', room({ fiveHour: win(0, HOUR) }), 60), account('main', room({ fiveHour: win(0.9, 4 * HOUR) }), 10)]
    expect(pickAccount(accounts, new Map(), NOW, undefined, opts)!.id).toBe('main')
  })
})
