import type { AccountStateRecord, SessionWindow, StateDurations } from '../../accounts/state'
import { upstreamErrorMessage } from '../../accounts/state'

// What Anthropic's answers say about the account that sent them: its state after an error, and
// the 5-hour session window subscription accounts report on every answer.

const header = (h: Record<string, string | string[] | undefined>, name: string) => {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/**
 * What an upstream answer says about the account (not the request), from the status code alone —
 * never from the message, which may echo what a key holder sent: 429 → rate limited until
 * `anthropic-ratelimit-unified-reset` (unix s) or `retry-after`; 529 → overloaded; 5xx → short
 * cooldown. Null when the answer may be about the request (400, 401, 403, 404, 413, …); a 401
 * or 403 is checked with a probe of the relay's own (protocols/anthropic/probe.ts).
 */
export function anthropicStateFromResponse(status: number, headers: Record<string, string | string[] | undefined>, body: string, d: StateDurations, now = Date.now()): AccountStateRecord | null {
  const message = upstreamErrorMessage(body)
  const detail = message ? `: ${message}` : ''
  if (status === 429) {
    const reset = Number(header(headers, 'anthropic-ratelimit-unified-reset'))
    const retryAfter = Number(header(headers, 'retry-after'))
    const until = reset > 0 ? reset * 1000 : retryAfter > 0 ? now + retryAfter * 1000 : now + d.rateLimitedDefaultMs
    return { state: 'rate_limited', reason: `upstream 429${detail}`, since: now, until: Math.max(until, now + 1000) }
  }
  if (status === 529) return { state: 'overloaded', reason: `upstream 529${detail}`, since: now, until: now + d.overloadedMs }
  if (status >= 500) return { state: 'cooldown', reason: `upstream ${status}${detail}`, since: now, until: now + d.cooldownMs }
  return null
}

/** The window from a response's `anthropic-ratelimit-unified-5h-*` headers (null when absent). */
export function windowFromHeaders(headers: Record<string, string | string[] | undefined>, now = Date.now()): SessionWindow | null {
  const status = header(headers, 'anthropic-ratelimit-unified-5h-status')
  if (!status) return null
  const reset = Number(header(headers, 'anthropic-ratelimit-unified-5h-reset'))
  return { status, resetAt: reset > 0 ? new Date(reset * 1000).toISOString() : null, seenAt: new Date(now).toISOString() }
}
