// The console's one formatter module: every count, token figure, amount of money, date and
// duration on screen goes through here, so a cost reads the same on every page (auto-imported in
// components; plain TS so unit tests import them).

/** Token counters as the usage endpoints return them. */
export interface TokenCounts {
  inputTokens: number
  outputTokens: number
  cacheCreate5m: number
  cacheCreate1h: number
  cacheRead: number
}

/** A whole number with grouping: 12345 → "12,345" (en) / "12,345" (zh-CN). */
export function formatCount(n: number, locale = 'en'): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(n)
}

/** Token counts, compact from 10 000 on: 950 → "950", 12345 → "12.3K" (en) / "1.2万" (zh-CN). */
export function formatTokens(n: number, locale = 'en'): string {
  if (Math.abs(n) < 10_000) return formatCount(n, locale)
  return new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 }).format(n)
}

/**
 * USD with cents; amounts under a cent keep their significant digits so a cheap request does not
 * read as $0.00: 1.5 → "$1.50", 0.000375 → "$0.000375".
 */
export function formatUsd(usd: number, locale = 'en'): string {
  const small = usd !== 0 && Math.abs(usd) < 0.01
  return new Intl.NumberFormat(locale, {
    style: 'currency', currency: 'USD', currencyDisplay: 'narrowSymbol',
    minimumFractionDigits: 2, maximumFractionDigits: small ? 6 : 2,
  }).format(usd)
}

/** Integer micro-USD (how the server counts cost) → USD text: 1234567 → "$1.23". */
export function usdFromMicros(micros: number, locale = 'en'): string {
  return formatUsd(micros / 1e6, locale)
}

/** A price per million tokens: up to 4 decimals (cache reads cost fractions of a cent). */
export function formatPrice(usdPerMillion: number, locale = 'en'): string {
  return new Intl.NumberFormat(locale, {
    style: 'currency', currency: 'USD', currencyDisplay: 'narrowSymbol', minimumFractionDigits: 2, maximumFractionDigits: 4,
  }).format(usdPerMillion)
}

/** Cache writes of both lifetimes together. */
export const cacheCreateTokens = (c: Pick<TokenCounts, 'cacheCreate5m' | 'cacheCreate1h'>) => c.cacheCreate5m + c.cacheCreate1h

/** Every token of a counter set (what the server's token limits count). */
export const allTokens = (c: TokenCounts) => c.inputTokens + c.outputTokens + cacheCreateTokens(c) + c.cacheRead

export interface DurationUnits { d: string, h: string, m: string, s: string }

/** Seconds → the two largest non-zero units: 93784 → "1d 2h", 3725 → "1h 2m", 42 → "42s". */
export function formatDuration(seconds: number, units: DurationUnits = { d: 'd', h: 'h', m: 'm', s: 's' }): string {
  let rest = Math.max(0, Math.floor(seconds))
  const parts: [number, string][] = []
  for (const [size, unit] of [[86_400, units.d], [3_600, units.h], [60, units.m], [1, units.s]] as const) {
    parts.push([Math.floor(rest / size), unit])
    rest %= size
  }
  const first = parts.findIndex(([v]) => v > 0)
  if (first === -1) return `0${units.s}`
  return parts.slice(first, first + 2).filter(([v]) => v > 0).map(([v, u]) => `${v}${u}`).join(' ')
}

export interface LimitProgress {
  /** Share used, 0–100 (capped; a limit can be overrun by requests already running). */
  percent: number
  level: 'ok' | 'warn' | 'over'
}

/** How much of a limit is used; null when the limit is off (0 means no limit on the server). */
export function limitProgress(used: number, limit: number): LimitProgress | null {
  if (!(limit > 0)) return null
  const ratio = Math.max(0, used) / limit
  return {
    percent: Math.min(100, Math.round(ratio * 1000) / 10),
    level: ratio >= 1 ? 'over' : ratio >= 0.8 ? 'warn' : 'ok',
  }
}

export type Granularity = 'hour' | 'day'

/** The UTC instant a bucket id starts at: "2026-11-29T08" (hour) or "2026-11-29" (day). */
export function bucketStart(bucket: string): Date {
  return new Date(bucket.length === 13 ? `${bucket}:00:00Z` : `${bucket}T00:00:00Z`)
}

/**
 * A chart label for a usage bucket. Hour buckets are shown in the viewer's time zone; day
 * buckets are UTC days (that is how the server cuts them), so they are labelled in UTC.
 */
export function bucketLabel(bucket: string, granularity: Granularity, locale = 'en', timeZone?: string): string {
  const opts: Intl.DateTimeFormatOptions = granularity === 'hour'
    ? { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone }
    : { month: '2-digit', day: '2-digit', timeZone: 'UTC' }
  return new Intl.DateTimeFormat(locale, opts).format(bucketStart(bucket))
}

/** The query range of a preset: the last `hours` hours up to `now`, as ISO strings. */
export function rangeQuery(hours: number, now = new Date()): { from: string, to: string } {
  return { from: new Date(now.getTime() - hours * 3_600_000).toISOString(), to: now.toISOString() }
}

/** A date-time for tables ("—" when there is none): an ISO string or epoch milliseconds. */
export function formatDateTime(at: string | number | null | undefined, locale = 'en', timeZone?: string): string {
  if (at === null || at === undefined || at === '') return '—'
  const d = new Date(at)
  if (Number.isNaN(d.getTime())) return '—'
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(d)
}

/** What a figure counts: requests (or other things), tokens, or USD. */
export type AmountUnit = 'count' | 'tokens' | 'usd'

/** A figure in its unit: counts grouped, tokens compact, USD as money. */
export function formatAmount(value: number, unit: AmountUnit, locale = 'en'): string {
  if (unit === 'usd') return formatUsd(value, locale)
  return unit === 'tokens' ? formatTokens(value, locale) : formatCount(value, locale)
}

/** A chart value of a metric: requests as counts, tokens compact, cost (USD) as money. */
export function formatMetric(value: number, metric: 'requests' | 'tokens' | 'cost', locale = 'en'): string {
  return formatAmount(value, metric === 'cost' ? 'usd' : metric === 'tokens' ? 'tokens' : 'count', locale)
}

/** A time of day ("14:05:09" / "2:05:09 PM") of an ISO string, epoch ms or Date. */
export function formatTime(at: string | number | Date, locale = 'en'): string {
  return new Date(at).toLocaleTimeString(locale)
}

/** A log line's time as written (UTC, to the millisecond): "2026-11-29T08:05:09.123Z" → "08:05:09.123". */
export const formatLogTime = (iso: string | undefined) => iso?.slice(11, 23) ?? ''

/** A UTC day bucket ("2026-11-29") with its weekday: "Sun, Nov 29". */
export function formatDay(date: string, locale = 'en'): string {
  return new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', weekday: 'short', timeZone: 'UTC' }).format(new Date(`${date}T00:00:00Z`))
}

/**
 * "3 minutes ago", "in 2 days" in the locale's words. `minUnit` 'minute' never counts seconds
 * ("this minute"), for a text that should not change every second.
 */
export function formatAgo(iso: string, locale = 'en', now = Date.now(), minUnit: 'second' | 'minute' = 'second'): string {
  const s = Math.round((Date.parse(iso) - now) / 1000)
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })
  const abs = Math.abs(s)
  if (abs < 60 && minUnit === 'second') return rtf.format(s, 'second')
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute')
  if (abs < 86_400) return rtf.format(Math.round(s / 3600), 'hour')
  return rtf.format(Math.round(s / 86_400), 'day')
}

const pad2 = (n: number) => String(n).padStart(2, '0')

/**
 * Time left as a clock: m:ss, h:mm:ss, or "2d 03:04:05" (never negative). Rounded down: the clock
 * it is measured with ticks once a second, and a fresh 60-minute window must not read 1:00:01.
 */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000))
  const d = Math.floor(total / 86_400)
  const h = Math.floor((total % 86_400) / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  if (d > 0) return `${d}d ${pad2(h)}:${pad2(m)}:${pad2(s)}`
  return h > 0 ? `${h}:${pad2(m)}:${pad2(s)}` : `${m}:${pad2(s)}`
}

/** How one unit of a remaining time reads (e.g. from the locale: `t('accounts.duration.h', { n })`). */
export type DurationFormatter = (unit: 'd' | 'h' | 'm' | 's', n: string) => string
const plainUnits: DurationFormatter = (unit, n) => `${n}${unit}`

/** A remaining time in its two largest units: "2d 3h", "2h 05m", "4m 09s", "12s" (never negative). */
export function formatRemaining(ms: number, unit: DurationFormatter = plainUnits): string {
  const s = Math.max(0, Math.ceil(ms / 1000))
  const d = Math.floor(s / 86_400)
  const h = Math.floor((s % 86_400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d) return `${unit('d', String(d))} ${unit('h', String(h))}`
  if (h) return `${unit('h', String(h))} ${unit('m', pad2(m))}`
  if (m) return `${unit('m', String(m))} ${unit('s', pad2(s % 60))}`
  return unit('s', String(s))
}

/**
 * A remaining time to the minute, for countdowns that tick once a minute: "2d 3h", "2h 05m",
 * "14m". Rounded up, so the last seconds read "1m", never "0m"; null once the time has passed.
 */
export function formatMinutesLeft(ms: number, unit: DurationFormatter = plainUnits): string | null {
  if (!(ms > 0)) return null
  const m = Math.ceil(ms / 60_000)
  const d = Math.floor(m / 1440)
  const h = Math.floor((m % 1440) / 60)
  if (d) return `${unit('d', String(d))} ${unit('h', String(h))}`
  if (h) return `${unit('h', String(h))} ${unit('m', pad2(m % 60))}`
  return unit('m', String(m))
}

/** A ratio as a percentage with one decimal: 0.6452 → "64.5%"; null (nothing to divide) → "—". */
export function formatPercent(ratio: number | null, locale = 'en'): string {
  if (ratio === null) return '—'
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(ratio)
}
