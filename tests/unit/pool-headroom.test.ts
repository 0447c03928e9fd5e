import { describe, expect, it } from 'vitest'
import { emptyWindow, type Headroom, type HeadroomWindow } from '../../server/accounts/headroom'
import { poolHeadroom } from '../../server/accounts/pool-headroom'
import type { Account } from '../../server/accounts/store'

const NOW = Date.UTC(2026, 5, 1, 12)
const at = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString()

let n = 0
function account(fields: Partial<Account> = {}): Account {
  n += 1
  return {
    id: `a${n}`, platform: 'claude', type: 'oauth', name: `a${n}`, description: '', apiUrl: '', apiKey: '', oauth: null, projectId: null,
    priority: 50, isActive: true, accountType: 'shared', clients: 'claude-code', proxy: null, createdAt: at(-600), updatedAt: at(-600), lastUsedAt: null,
    ...fields,
  }
}

function headroom(fiveHour: Partial<HeadroomWindow>): Headroom {
  return {
    fiveHour: { ...emptyWindow(), ...fiveHour }, sevenDay: emptyWindow(), sevenDayOpus: null, sevenDaySonnet: null,
    status: null, resetAt: null, representativeClaim: null, fallbackPercentage: null, seenAt: at(-1), source: 'headers',
  }
}

const fresh = () => account({ headroom: headroom({ utilization: 0, resetAt: at(280) }) })
const halfUsed = () => account({ type: 'setup-token', headroom: headroom({ utilization: 0.5, resetAt: at(90) }) })
const pastReset = () => account({ headroom: headroom({ utilization: 0.97, resetAt: at(-5) }) })
const neverReported = () => account()
const disabled = () => account({ isActive: false, headroom: headroom({ utilization: 0.2, resetAt: at(30) }) })
const rateLimited = () => account({ state: { state: 'rate_limited', reason: '429', since: NOW - 60_000, until: NOW + 600_000 }, headroom: headroom({ utilization: 1, resetAt: at(10) }) })
const console_ = () => account({ type: 'console' })
const gemini = () => account({ platform: 'gemini', type: 'oauth' })

describe('poolHeadroom: the remaining 5-hour windows of the subscription pool', () => {
  it.each([
    ['no accounts', [], { accounts: 0, windowsLeft: 0, assumedFull: 0, nextResetAt: null }],
    ['one fresh window', [fresh()], { accounts: 1, windowsLeft: 1, assumedFull: 0, nextResetAt: at(280) }],
    ['one half used (setup token)', [halfUsed()], { accounts: 1, windowsLeft: 0.5, assumedFull: 0, nextResetAt: at(90) }],
    ['past its reset: a full window, assumed', [pastReset()], { accounts: 1, windowsLeft: 1, assumedFull: 1, nextResetAt: null }],
    ['never reported: a full window, assumed', [neverReported()], { accounts: 1, windowsLeft: 1, assumedFull: 1, nextResetAt: null }],
    ['disabled, rate-limited, Console and Gemini accounts are left out', [disabled(), rateLimited(), console_(), gemini()], { accounts: 0, windowsLeft: 0, assumedFull: 0, nextResetAt: null }],
    ['all together: the soonest live reset', [fresh(), halfUsed(), pastReset(), neverReported(), disabled(), console_()], { accounts: 4, windowsLeft: 3.5, assumedFull: 2, nextResetAt: at(90) }],
    ['a state that has run out counts again', [account({ state: { state: 'cooldown', reason: '', since: NOW - 60_000, until: NOW - 1 }, headroom: headroom({ utilization: 0.25, resetAt: at(60) }) })],
      { accounts: 1, windowsLeft: 0.75, assumedFull: 0, nextResetAt: at(60) }],
    ['a rejected window is spent whatever its utilisation', [account({ headroom: headroom({ utilization: 0.6, status: 'rejected', resetAt: at(45) }) })],
      { accounts: 1, windowsLeft: 0, assumedFull: 0, nextResetAt: at(45) }],
    ['an overrun utilisation counts as none left', [account({ headroom: headroom({ utilization: 1.2, resetAt: at(45) }) })],
      { accounts: 1, windowsLeft: 0, assumedFull: 0, nextResetAt: at(45) }],
    ['fractions add up without drift', [0.1, 0.2, 0.3].map(u => account({ headroom: headroom({ utilization: u, resetAt: at(100) }) })),
      { accounts: 3, windowsLeft: 2.4, assumedFull: 0, nextResetAt: at(100) }],
  ] as const)('%s', (_, accounts, expected) => {
    expect(poolHeadroom(accounts as readonly Account[], NOW)).toEqual(expected)
  })
})
