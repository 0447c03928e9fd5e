import type Redis from 'ioredis'
import { rk } from '../store/keys'

/** Why an account is out of the pool, and until when (0 = until an admin resets it). */
export interface AccountStateRecord {
  state: 'rate_limited' | 'overloaded' | 'blocked' | 'error' | 'cooldown'
  reason: string
  since: number
  until: number
  /** Consecutive failures behind this state (token refreshes back off on it). */
  failures?: number
}

/** Knobs for how long each state lasts (from config). */
export interface StateDurations { overloadedMs: number, cooldownMs: number, rateLimitedDefaultMs: number }

/** True when the account may serve at `now` (no state, or its state has ended by itself). */
export const isAvailable = (s: AccountStateRecord | undefined, now = Date.now()) => !s || (s.until > 0 && s.until <= now)

/** The state shown to admins: `active` once a state has run out. */
export const effectiveState = (s: AccountStateRecord | undefined, now = Date.now()) =>
  isAvailable(s, now) ? { state: 'active' as const } : { ...s!, until: s!.until ? new Date(s!.until).toISOString() : null, since: new Date(s!.since).toISOString() }

const header = (h: Record<string, string | string[] | undefined>, name: string) => {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/** An upstream error body's `error.message` (first 200 characters; '' when there is none): for admins' state reasons. */
export function upstreamErrorMessage(body: string): string {
  try {
    return String(JSON.parse(body)?.error?.message ?? '').slice(0, 200)
  }
  catch {
    return ''
  }
}

/**
 * What an upstream answer says about the account (not the request), from the status code alone —
 * never from the message, which may echo what a key holder sent: 429 → rate limited until
 * `anthropic-ratelimit-unified-reset` (unix s) or `retry-after`; 529 → overloaded; 5xx → short
 * cooldown. Null when the answer may be about the request (400, 401, 403, 404, 413, …); a 401
 * or 403 is checked with a probe of the relay's own (protocols/anthropic/probe.ts).
 */
export function stateFromResponse(status: number, headers: Record<string, string | string[] | undefined>, body: string, d: StateDurations, now = Date.now()): AccountStateRecord | null {
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

/** A failure with no answer at all (unreachable, timeout, proxy fault): a short cooldown. */
export const stateFromFailure = (message: string, d: StateDurations, now = Date.now()): AccountStateRecord =>
  ({ state: 'cooldown', reason: message, since: now, until: now + d.cooldownMs })

const field = (platform: string, id: string) => `${platform}:${id}`

/** A hash of `{platform}:{accountId}` → JSON, as a map by account id for one platform (one HGETALL; corrupt entries skipped). */
async function readPlatformHash<T>(redis: Redis, key: string, platform: string): Promise<Map<string, T>> {
  const all = await redis.hgetall(key)
  const out = new Map<string, T>()
  for (const [f, json] of Object.entries(all)) {
    if (!f.startsWith(`${platform}:`)) continue
    try {
      out.set(f.slice(platform.length + 1), JSON.parse(json) as T)
    }
    catch { /* a corrupt entry reads as none */ }
  }
  return out
}

/** Every state of a platform's accounts, by account id. */
export const readStates = (redis: Redis, platform: string) => readPlatformHash<AccountStateRecord>(redis, rk.accountStates(), platform)

export async function writeState(redis: Redis, platform: string, id: string, s: AccountStateRecord | null): Promise<void> {
  if (s) await redis.hset(rk.accountStates(), field(platform, id), JSON.stringify(s))
  else await redis.hdel(rk.accountStates(), field(platform, id))
}

/** The 5-hour session window Anthropic reports for subscription accounts. */
export interface SessionWindow { status: string, resetAt: string | null, seenAt: string }

/** The window from a response's `anthropic-ratelimit-unified-5h-*` headers (null when absent). */
export function windowFromHeaders(headers: Record<string, string | string[] | undefined>, now = Date.now()): SessionWindow | null {
  const status = header(headers, 'anthropic-ratelimit-unified-5h-status')
  if (!status) return null
  const reset = Number(header(headers, 'anthropic-ratelimit-unified-5h-reset'))
  return { status, resetAt: reset > 0 ? new Date(reset * 1000).toISOString() : null, seenAt: new Date(now).toISOString() }
}

/** Every session window of a platform's accounts, by account id. */
export const readWindows = (redis: Redis, platform: string) => readPlatformHash<SessionWindow>(redis, rk.accountWindows(), platform)

export async function writeWindow(redis: Redis, platform: string, id: string, w: SessionWindow): Promise<void> {
  await redis.hset(rk.accountWindows(), field(platform, id), JSON.stringify(w))
}
