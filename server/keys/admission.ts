import { randomUUID } from 'node:crypto'
import type Redis from 'ioredis'
import { rk } from '../store/keys'
import { bucketIds, dim, weekId } from '../usage/buckets'
import type { ApiKeyRecord } from './records'
import { activeLeases } from '../metrics'
import type { InflightMark } from '../usage/lost'

/**
 * How long a concurrency lease lives without renewal: a crashed instance's leases are free by
 * then (issue 13: within 20 s). A running request renews its lease every LEASE_MS / 3.
 */
export const LEASE_MS = 15_000

/** An admitted request: what recording must hand back (window to charge, lease to release). */
export interface Admission { windowStart: string, leaseId: string }

/** Why a request was refused, protocol-neutral: each protocol renders it in its own shape. */
export interface Denial {
  status: 401 | 429
  kind: 'rate_limit' | 'expired'
  message: string
  /** Seconds until it may succeed (the `retry-after` header), when known. */
  retryAfter?: number
}

const usd = (n: number) => Math.round(n * 1e6)
const secondsUntil = (ms: number, now: number) => Math.max(1, Math.ceil((ms - now) / 1000))

/** True when admission has anything to check (keys without limits skip the Redis call). */
export function hasLimits(k: ApiKeyRecord): boolean {
  return k.activationDays > 0 || k.concurrencyLimit > 0 || k.dailyCostLimit > 0 || k.weeklyCostLimit > 0
    || k.totalCostLimit > 0 || k.tokenLimit > 0
    || (k.rateLimitWindow > 0 && (k.rateLimitRequests > 0 || k.rateLimitTokens > 0 || k.rateLimitCost > 0))
}

function denial(code: number, k: ApiKeyRecord, resetIn: number, now: Date): Denial {
  const t = now.getTime()
  const nextMidnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
  const nextWeek = Date.parse(`${weekId(now)}T00:00:00Z`) + 7 * 86_400_000
  const window = `${k.rateLimitWindow}-minute window`
  switch (code) {
    case 1: return { status: 429, kind: 'rate_limit', retryAfter: resetIn, message: `Rate limit reached: ${k.rateLimitRequests} requests per ${window}; resets in ${resetIn} s.` }
    case 2: return { status: 429, kind: 'rate_limit', retryAfter: resetIn, message: `Rate limit reached: ${k.rateLimitTokens} tokens per ${window}; resets in ${resetIn} s.` }
    case 3: return { status: 429, kind: 'rate_limit', retryAfter: resetIn, message: `Rate limit reached: $${k.rateLimitCost} per ${window}; resets in ${resetIn} s.` }
    case 4: return { status: 429, kind: 'rate_limit', retryAfter: 1, message: `Concurrency limit reached: at most ${k.concurrencyLimit} requests at a time for this key.` }
    case 5: return { status: 429, kind: 'rate_limit', retryAfter: secondsUntil(nextMidnight, t), message: `Daily cost limit of $${k.dailyCostLimit} reached; resets at ${new Date(nextMidnight).toISOString()}.` }
    case 6: return { status: 429, kind: 'rate_limit', retryAfter: secondsUntil(nextWeek, t), message: `Weekly cost limit of $${k.weeklyCostLimit} reached; resets at ${new Date(nextWeek).toISOString()}.` }
    case 7: return { status: 429, kind: 'rate_limit', message: `Total cost limit of $${k.totalCostLimit} reached; it does not reset (ask the admin to raise it).` }
    case 8: return { status: 429, kind: 'rate_limit', message: `Token limit of ${k.tokenLimit} tokens reached; it does not reset (ask the admin to raise it).` }
    default: return { status: 401, kind: 'expired', message: `API key has expired (${k.activationDays} days after its first use).` }
  }
}

/**
 * Admit a request against every limit of the key in ONE Redis call (the `admit` script): expiry
 * by activation, window requests/tokens/cost, concurrency lease, daily/weekly/total cost, token
 * limit. Cost and token limits compare what was recorded so far, so they can be exceeded only by
 * requests already admitted while the key was under its limit (they finish and are charged).
 * `inflight` (a request that will be recorded) lists it in its instance's in-flight hash once admitted.
 */
export async function admit(redis: Redis, k: ApiKeyRecord, now = new Date(), inflight: InflightMark | null = null): Promise<Admission | Denial> {
  if (!hasLimits(k)) {
    // Nothing to check: the in-flight entry is the one Redis command before forwarding, not awaited
    // (an outage just skips it: the client has no offline queue).
    if (inflight) void redis.hset(inflight.hash, inflight.requestId, inflight.entry).catch(() => {})
    return { windowStart: '', leaseId: '' }
  }
  const leaseId = k.concurrencyLimit > 0 ? randomUUID() : ''
  const windowMs = k.rateLimitWindow > 0 && (k.rateLimitRequests > 0 || k.rateLimitTokens > 0 || k.rateLimitCost > 0) ? k.rateLimitWindow * 60_000 : 0
  // An admitted request's in-flight entry is written by the same script (no extra command).
  const [code, value] = await redis.admit(
    rk.apiKey(k.id), rk.rateWindow(k.id), rk.leases(k.id), rk.usageBucket('day', bucketIds(now).day),
    rk.weeklyCost(weekId(now), k.id), rk.usageTotal(), inflight?.hash ?? rk.inflight(''),
    now.getTime(), now.toISOString(), leaseId, LEASE_MS, windowMs, k.rateLimitRequests, k.rateLimitTokens,
    usd(k.rateLimitCost), k.concurrencyLimit, usd(k.dailyCostLimit), usd(k.weeklyCostLimit), usd(k.totalCostLimit),
    k.tokenLimit, k.activationDays * 86_400_000, dim.key(k.id), inflight?.requestId ?? '', inflight?.entry ?? '',
  )
  if (code === 0) return { windowStart: String(value ?? ''), leaseId }
  return denial(code, k, Number(value) || 1, now)
}

export const isDenial = (a: Admission | Denial): a is Denial => 'status' in a

/**
 * Admit a request that spends no upstream tokens (count_tokens, model lists, setup calls): the
 * key's activation expiry is checked and a concurrency lease taken, nothing is counted against
 * its windows or cost. Release the lease with `releaseLease` when the request ends.
 */
export async function admitLease(redis: Redis, k: ApiKeyRecord, now = new Date()): Promise<Admission | Denial> {
  if (k.activationDays <= 0 && k.concurrencyLimit <= 0) return { windowStart: '', leaseId: '' }
  return admit(redis, { ...k, rateLimitWindow: 0, dailyCostLimit: 0, weeklyCostLimit: 0, totalCostLimit: 0, tokenLimit: 0 }, now)
}

/** Give a lease back without recording anything (requests admitted by `admitLease`). */
export async function releaseLease(redis: Redis, keyId: string, leaseId: string): Promise<void> {
  if (leaseId) await redis.zrem(rk.leases(keyId), leaseId)
}

/** Keep a long request's lease alive; returns a stop function (call it when the request ends). */
export function keepLease(redis: Redis, keyId: string, leaseId: string): () => void {
  if (!leaseId) return () => {}
  activeLeases.inc()
  const timer = setInterval(() => {
    void redis.zadd(rk.leases(keyId), 'XX', Date.now() + LEASE_MS, leaseId).catch(() => {})
  }, LEASE_MS / 3)
  timer.unref()
  let stopped = false
  return () => {
    if (stopped) return
    stopped = true
    activeLeases.dec()
    clearInterval(timer)
  }
}

/** The key's live limit state for its holder and the admin UI: window, leases in use, weekly cost. */
export async function readLimitState(redis: Redis, k: ApiKeyRecord, now = new Date()) {
  const rows = (await redis.pipeline()
    .hgetall(rk.rateWindow(k.id))
    .zcount(rk.leases(k.id), now.getTime(), '+inf')
    .get(rk.weeklyCost(weekId(now), k.id))
    .exec()) ?? []
  const w = (rows[0]?.[1] ?? {}) as Record<string, string>
  const start = Number(w.start)
  return {
    window: k.rateLimitWindow > 0 && start
      ? { startedAt: new Date(start).toISOString(), resetsAt: new Date(start + k.rateLimitWindow * 60_000).toISOString(), requests: Number(w.requests) || 0, tokens: Number(w.tokens) || 0, cost: (Number(w.cost) || 0) / 1e6 }
      : null,
    concurrency: { inUse: Number(rows[1]?.[1]) || 0, limit: k.concurrencyLimit },
    weeklyCost: (Number(rows[2]?.[1]) || 0) / 1e6,
  }
}
