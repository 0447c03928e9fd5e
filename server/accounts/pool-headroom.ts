import { type HeadroomWindow, headroomOf } from './headroom'
import { isAvailable } from './state'
import type { Account } from './store'

/**
 * How much 5-hour capacity the Claude subscription pool has left (issue 17 §6): the dashboard's
 * "2.4 of 3 windows left". One window per subscription account in the pool now.
 */
export interface PoolHeadroom {
  /** Subscription accounts (OAuth, setup token) enabled and not out of the pool: one 5-hour window each. */
  accounts: number
  /** Remaining 5-hour windows summed, 0…`accounts`. */
  windowsLeft: number
  /** Of `accounts`, those counted as a full window because theirs was never reported or is past its reset. */
  assumedFull: number
  /** The soonest reset of a live 5-hour window (ISO); null when none is known. */
  nextResetAt: string | null
}

/**
 * Share of a 5-hour window left at `now`, and whether it is assumed (no reading, or the window
 * has started over since). A window Anthropic rejects is spent whatever its utilisation says.
 */
function fiveHourLeft(w: HeadroomWindow | undefined, now: number): { left: number, assumed: boolean, resetAt: number | null } {
  const resetAt = w?.resetAt ? Date.parse(w.resetAt) : Number.NaN
  if (!w || resetAt <= now || (w.utilization === null && w.status !== 'rejected')) return { left: 1, assumed: true, resetAt: null }
  const left = w.status === 'rejected' ? 0 : 1 - Math.min(1, Math.max(0, w.utilization!))
  return { left, assumed: false, resetAt: Number.isNaN(resetAt) ? null : resetAt }
}

/**
 * The pool headroom of a platform's accounts, from the in-process copy (`claudeAccounts.all()`):
 * no Redis round trip. Console and Gemini accounts have no windows and are not counted.
 */
export function poolHeadroom(accounts: readonly Account[], now = Date.now()): PoolHeadroom {
  let count = 0
  let windowsLeft = 0
  let assumedFull = 0
  let next: number | null = null
  for (const a of accounts) {
    if (a.platform !== 'claude' || (a.type !== 'oauth' && a.type !== 'setup-token') || !a.isActive || !isAvailable(a.state, now)) continue
    const w = fiveHourLeft(headroomOf(a)?.fiveHour, now)
    count += 1
    windowsLeft += w.left
    if (w.assumed) assumedFull += 1
    if (w.resetAt !== null && (next === null || w.resetAt < next)) next = w.resetAt
  }
  // Sums of fractions drift (0.1 + 0.2); the figure is shown to a tenth at most.
  return { accounts: count, windowsLeft: Math.round(windowsLeft * 1000) / 1000, assumedFull, nextResetAt: next === null ? null : new Date(next).toISOString() }
}
