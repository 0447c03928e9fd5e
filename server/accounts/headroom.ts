import type Redis from 'ioredis'
import { rk } from '../store/keys'
import { field, readPlatformHash } from './state'

// How much of its subscription limits a Claude account has left, as Anthropic last said: from the
// unified rate-limit headers of every answer, and from the OAuth usage endpoint (polled). One
// record per account, on the in-process copy (`headroomOf`) and in the `account_headroom` hash.

/** Anthropic's verdict on a window, or on the account (`anthropic-ratelimit-unified-status`). */
export const UNIFIED_STATUSES = ['allowed', 'allowed_warning', 'rejected'] as const
export type UnifiedStatus = typeof UNIFIED_STATUSES[number]

/** The window Anthropic says binds the account now (`anthropic-ratelimit-unified-representative-claim`). */
export const HEADROOM_CLAIMS = ['five_hour', 'seven_day', 'seven_day_opus', 'seven_day_sonnet'] as const
export type HeadroomClaim = typeof HEADROOM_CLAIMS[number]

/** One limit window: how much is used, when it resets. */
export interface HeadroomWindow {
  /** Share of the window used, 0–1 (the usage endpoint's percentages are divided by 100); null: not reported. */
  utilization: number | null
  /** ISO time the window resets; null: not reported. */
  resetAt: string | null
  /** Anthropic's verdict on this window (headers only); null: not reported. */
  status: UnifiedStatus | null
}

/**
 * A subscription account's headroom. A reading that does not carry some part (a window, the
 * status) keeps that part from the record before it: `seenAt` and `source` are the newest reading's.
 */
export interface Headroom {
  fiveHour: HeadroomWindow
  sevenDay: HeadroomWindow
  /** Model-specific weekly windows, when Anthropic reports them (Max plans); null: never reported. */
  sevenDayOpus: HeadroomWindow | null
  sevenDaySonnet: HeadroomWindow | null
  /** The account's overall verdict (`allowed_warning`: close to a limit; `rejected`: at one). */
  status: UnifiedStatus | null
  /** When the binding limit resets (`anthropic-ratelimit-unified-reset`). */
  resetAt: string | null
  representativeClaim: HeadroomClaim | null
  /** `anthropic-ratelimit-unified-fallback-percentage`, a fraction 0–1 as sent. */
  fallbackPercentage: number | null
  /** When the newest reading was taken (ISO). */
  seenAt: string
  source: 'headers' | 'usage-endpoint'
}

/** A window nothing was reported for. */
export const emptyWindow = (): HeadroomWindow => ({ utilization: null, resetAt: null, status: null })

const reported = (w: HeadroomWindow | null | undefined): w is HeadroomWindow => !!w && (w.utilization !== null || w.resetAt !== null || w.status !== null)

/** `next` over `prev`: the parts `next` did not report are kept from `prev` (windows as a whole). */
export function mergeHeadroom(prev: Headroom | null | undefined, next: Headroom): Headroom {
  if (!prev) return next
  const win = <W extends HeadroomWindow | null>(n: W, p: W): W => (reported(n) ? n : p ?? n)
  return {
    fiveHour: win(next.fiveHour, prev.fiveHour),
    sevenDay: win(next.sevenDay, prev.sevenDay),
    sevenDayOpus: win(next.sevenDayOpus, prev.sevenDayOpus),
    sevenDaySonnet: win(next.sevenDaySonnet, prev.sevenDaySonnet),
    status: next.status ?? prev.status,
    resetAt: next.resetAt ?? prev.resetAt,
    representativeClaim: next.representativeClaim ?? prev.representativeClaim,
    fallbackPercentage: next.fallbackPercentage ?? prev.fallbackPercentage,
    seenAt: next.seenAt,
    source: next.source,
  }
}

/** Utilisations closer than this are the same for storage: each answer moves them a little. */
const UTILIZATION_STEP = 0.01

const closeWindow = (a: HeadroomWindow | null, b: HeadroomWindow | null): boolean => {
  if (!a || !b) return a === b
  const step = (u: number | null) => (u === null ? null : Math.round(u / UTILIZATION_STEP))
  return a.status === b.status && a.resetAt === b.resetAt && step(a.utilization) === step(b.utilization)
}

/**
 * True when `b` says nothing worth a Redis write over `a`: the same statuses, resets and claim,
 * and every utilisation within a point. (The in-process copy keeps the exact figures.) Runs on
 * every answer of a subscription account: field by field, no serialising.
 */
export function closeHeadroom(a: Headroom | null | undefined, b: Headroom): boolean {
  return !!a && a.status === b.status && a.resetAt === b.resetAt && a.representativeClaim === b.representativeClaim
    && a.fallbackPercentage === b.fallbackPercentage
    && closeWindow(a.fiveHour, b.fiveHour) && closeWindow(a.sevenDay, b.sevenDay)
    && closeWindow(a.sevenDayOpus, b.sevenDayOpus) && closeWindow(a.sevenDaySonnet, b.sevenDaySonnet)
}

/**
 * The headroom of an account as this instance last saw it, without a Redis round trip: what a
 * window-aware scheduler reads from the accounts of `claudeAccounts.all()`. Null for accounts
 * that never reported any (Console API keys, a subscription before its first answer or poll).
 * Check `seenAt` and each window's `resetAt`: a window past its reset has started over.
 */
export const headroomOf = (account: { headroom?: Headroom | null }): Headroom | null => account.headroom ?? null

/** Every stored headroom of a platform's accounts, by account id. */
export const readHeadroom = (redis: Redis, platform: string) => readPlatformHash<Headroom>(redis, rk.accountHeadroom(), platform)

export async function writeHeadroom(redis: Redis, platform: string, id: string, h: Headroom): Promise<void> {
  await redis.hset(rk.accountHeadroom(), field(platform, id), JSON.stringify(h))
}

/**
 * The usage endpoint's schedule for one account, shared by every instance: the next poll is not
 * before `nextAt`. `unavailable`: the endpoint refused the token (403: a setup token has no usage
 * scope), retried a day later; `rate_limited`: it answered 429, backed off.
 */
export interface UsagePoll {
  nextAt: number
  outcome: 'ok' | 'unavailable' | 'rate_limited' | 'failed'
  /** Failed or rate-limited polls in a row (the backoff doubles with each). */
  failures: number
  at: number
}

export const readUsagePolls = (redis: Redis, platform: string) => readPlatformHash<UsagePoll>(redis, rk.usagePoll(), platform)

export async function writeUsagePoll(redis: Redis, platform: string, id: string, p: UsagePoll): Promise<void> {
  await redis.hset(rk.usagePoll(), field(platform, id), JSON.stringify(p))
}
