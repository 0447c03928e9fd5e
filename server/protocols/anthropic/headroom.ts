import { emptyWindow, HEADROOM_CLAIMS, type Headroom, type HeadroomClaim, type HeadroomWindow, UNIFIED_STATUSES, type UnifiedStatus } from '../../accounts/headroom'

// Subscription headroom as Anthropic reports it: the unified rate-limit headers of every answer
// (fractions, unix seconds) and the OAuth usage endpoint (percentages, ISO times). Both are
// upstream text: every value is parsed strictly and a malformed one reads as not reported.
// The names handled are listed in docs/subscription-headroom.md.

type Headers = Record<string, string | string[] | undefined>

const PREFIX = 'anthropic-ratelimit-unified-'
/** Resets further away than this are not believed (the longest window is a week). */
const MAX_RESET_AHEAD_MS = 31 * 24 * 3600_000

const header = (h: Headers, name: string): string | undefined => {
  const v = h[PREFIX + name]
  return (Array.isArray(v) ? v[0] : v)?.trim()
}

/** Any unified header at all? (Most answers of API-key accounts carry none: nothing else to read.) */
function hasUnified(h: Headers): boolean {
  for (const name in h) if (name.startsWith(PREFIX)) return true
  return false
}

const oneOf = <T extends string>(values: readonly T[], v: string | undefined): T | null => (values.includes(v as T) ? v as T : null)

/** A decimal number within [min, max] (no hex, exponents or blanks, which Number() would take). */
function decimal(v: string | undefined, min: number, max: number): number | null {
  if (v === undefined || !/^\d{1,6}(\.\d{1,12})?$/.test(v)) return null
  const n = Number(v)
  return n >= min && n <= max ? n : null
}

/** A plausible reset time (not before 2020, not over a month ahead) as ISO; null otherwise. */
function resetIso(ms: number | null, now: number): string | null {
  return ms !== null && Number.isFinite(ms) && ms >= Date.UTC(2020, 0, 1) && ms <= now + MAX_RESET_AHEAD_MS ? new Date(ms).toISOString() : null
}

const unixReset = (v: string | undefined, now: number) => {
  const s = v !== undefined && /^\d{1,12}$/.test(v) ? Number(v) : null
  return resetIso(s === null ? null : s * 1000, now)
}

function headerWindow(h: Headers, name: string, now: number): HeadroomWindow {
  return {
    utilization: decimal(header(h, `${name}-utilization`), 0, 1),
    resetAt: unixReset(header(h, `${name}-reset`), now),
    status: oneOf<UnifiedStatus>(UNIFIED_STATUSES, header(h, `${name}-status`)),
  }
}

const nullIfEmpty = (w: HeadroomWindow): HeadroomWindow | null => (w.utilization === null && w.resetAt === null && w.status === null ? null : w)

/**
 * The headroom an answer's `anthropic-ratelimit-unified-*` headers report (fractions as sent);
 * null when it carries none of them (a Console API-key account, a fake upstream).
 */
export function headroomFromHeaders(h: Headers, now = Date.now()): Headroom | null {
  if (!hasUnified(h)) return null
  const r: Headroom = {
    fiveHour: headerWindow(h, '5h', now),
    sevenDay: headerWindow(h, '7d', now),
    sevenDayOpus: nullIfEmpty(headerWindow(h, '7d_opus', now)),
    sevenDaySonnet: nullIfEmpty(headerWindow(h, '7d_sonnet', now)),
    status: oneOf<UnifiedStatus>(UNIFIED_STATUSES, header(h, 'status')),
    resetAt: unixReset(header(h, 'reset'), now),
    representativeClaim: oneOf<HeadroomClaim>(HEADROOM_CLAIMS, header(h, 'representative-claim')),
    fallbackPercentage: decimal(header(h, 'fallback-percentage'), 0, 1),
    seenAt: new Date(now).toISOString(),
    source: 'headers',
  }
  const { seenAt: _, source: __, ...parts } = r
  return Object.values(parts).some(v => v !== null && (typeof v !== 'object' || nullIfEmpty(v) !== null)) ? r : null
}

function usageWindow(v: unknown, now: number): HeadroomWindow | null {
  if (!v || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  const pct = typeof o.utilization === 'number' && Number.isFinite(o.utilization) && o.utilization >= 0 && o.utilization <= 100 ? o.utilization : null
  const reset = typeof o.resets_at === 'string' && o.resets_at.length <= 40 ? Date.parse(o.resets_at) : null
  return nullIfEmpty({ utilization: pct === null ? null : pct / 100, resetAt: resetIso(reset, now), status: null })
}

/**
 * The headroom in an answer of Anthropic's OAuth usage endpoint (`five_hour`, `seven_day`,
 * `seven_day_opus`, `seven_day_sonnet`: `{ utilization: percent, resets_at: ISO }`), utilisation
 * normalised to 0–1; null when the body is not such an object or reports no window.
 */
export function headroomFromUsage(body: string, now = Date.now()): Headroom | null {
  let json: unknown
  try {
    json = JSON.parse(body)
  }
  catch {
    return null
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null
  const o = json as Record<string, unknown>
  const windows = { fiveHour: usageWindow(o.five_hour, now), sevenDay: usageWindow(o.seven_day, now), sevenDayOpus: usageWindow(o.seven_day_opus, now), sevenDaySonnet: usageWindow(o.seven_day_sonnet, now) }
  if (Object.values(windows).every(w => w === null)) return null
  return {
    ...windows, fiveHour: windows.fiveHour ?? emptyWindow(), sevenDay: windows.sevenDay ?? emptyWindow(),
    status: null, resetAt: null, representativeClaim: null, fallbackPercentage: null, seenAt: new Date(now).toISOString(), source: 'usage-endpoint',
  }
}
