import type { Headroom, HeadroomWindow } from './headroom'

// Window-aware scheduling (docs/subscription-headroom.md): among equally eligible subscription
// accounts, send the next request to the one with the most headroom per unit of time left before
// its windows reset, so the pool's windows drain evenly and reach their resets instead of a 429.

const FIVE_HOURS = 5 * 3600_000
const SEVEN_DAYS = 7 * 86_400_000
/** Time left below this counts as this much: a window about to reset is not worth infinitely more. */
const MIN_LEFT_MS = 60_000

/** What a pace is for an account that never reported headroom (Console keys, a first request): exactly on pace. */
export const NEUTRAL_PACE = 1

/** The model family whose weekly share binds too (Max plans report Opus and Sonnet shares). */
export type ModelFamily = 'opus' | 'sonnet' | null
export const modelFamily = (model: string): ModelFamily => (/opus/i.test(model) ? 'opus' : /sonnet/i.test(model) ? 'sonnet' : null)

/** The windows that bind a request of this model family, with their lengths. */
function windows(h: Headroom, family: ModelFamily): [HeadroomWindow, number][] {
  const out: [HeadroomWindow, number][] = [[h.fiveHour, FIVE_HOURS], [h.sevenDay, SEVEN_DAYS]]
  if (family === 'opus' && h.sevenDayOpus) out.push([h.sevenDayOpus, SEVEN_DAYS])
  if (family === 'sonnet' && h.sevenDaySonnet) out.push([h.sevenDaySonnet, SEVEN_DAYS])
  return out
}

/** A window that still counts: it reported a utilisation and has not reset since (a reset window starts over). */
const live = (w: HeadroomWindow, now: number): w is HeadroomWindow & { utilization: number } =>
  w.utilization !== null && (w.resetAt === null || Date.parse(w.resetAt) > now)

/**
 * How fast an account may be drawn on: for each window that binds, the share left divided by the
 * share of the window's time left (1 = on pace to use exactly all of it by the reset; above 1 it
 * has room to spare, below 1 it would run out early). The tightest window decides.
 */
export function pace(h: Headroom | null, family: ModelFamily, now = Date.now()): number {
  if (!h) return NEUTRAL_PACE
  let tightest = Number.POSITIVE_INFINITY
  for (const [w, length] of windows(h, family)) {
    if (!live(w, now)) continue
    const timeShare = w.resetAt === null ? 1 : Math.max(MIN_LEFT_MS, Date.parse(w.resetAt) - now) / length
    tightest = Math.min(tightest, Math.max(0, 1 - w.utilization) / Math.min(1, timeShare))
  }
  return Number.isFinite(tightest) ? tightest : NEUTRAL_PACE
}

/** At or over `limit` (0–1) of a window that binds and has not reset, or refused by Anthropic until its reset. */
export function nearLimit(h: Headroom | null, family: ModelFamily, limit: number, now = Date.now()): boolean {
  if (!h) return false
  if (h.status === 'rejected' && (h.resetAt === null || Date.parse(h.resetAt) > now)) return true
  return windows(h, family).some(([w]) => live(w, now) && w.utilization >= limit)
}
