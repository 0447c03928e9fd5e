// Display formatters for the console (auto-imported in components; plain TS so unit tests import them).

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

/** A date-time for tables ("—" when there is none). */
export function formatDateTime(iso: string | null | undefined, locale = 'en', timeZone?: string): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return '—'
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(d)
}

/** A chart value of a metric: requests as counts, tokens compact, cost (USD) as money. */
export function formatMetric(value: number, metric: 'requests' | 'tokens' | 'cost', locale = 'en'): string {
  if (metric === 'cost') return formatUsd(value, locale)
  return metric === 'tokens' ? formatTokens(value, locale) : formatCount(value, locale)
}
