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

/** An upstream error body's `error.message` (first 200 characters; '' when there is none): for admins' state reasons. */
export function upstreamErrorMessage(body: string): string {
  try {
    return String(JSON.parse(body)?.error?.message ?? '').slice(0, 200)
  }
  catch {
    return ''
  }
}

/** A failure with no answer at all (unreachable, timeout, proxy fault): a short cooldown. */
export const stateFromFailure = (message: string, d: StateDurations, now = Date.now()): AccountStateRecord =>
  ({ state: 'cooldown', reason: message, since: now, until: now + d.cooldownMs })

/** The field of an account in the per-account hashes (`account_state`, `account_window`, …). */
export const field = (platform: string, id: string) => `${platform}:${id}`

/** A hash of `{platform}:{accountId}` → JSON, as a map by account id for one platform (one HGETALL; corrupt entries skipped). */
export async function readPlatformHash<T>(redis: Redis, key: string, platform: string): Promise<Map<string, T>> {
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

/** Every session window of a platform's accounts, by account id. */
export const readWindows = (redis: Redis, platform: string) => readPlatformHash<SessionWindow>(redis, rk.accountWindows(), platform)

export async function writeWindow(redis: Redis, platform: string, id: string, w: SessionWindow): Promise<void> {
  await redis.hset(rk.accountWindows(), field(platform, id), JSON.stringify(w))
}
