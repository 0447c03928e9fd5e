import type Redis from 'ioredis'
import { rk } from '../store/keys'
import { BUCKET_TTL_SECONDS, bucketIds, type Counters, dim, packDelta, unpack, weekId } from './buckets'
import { sessionArgs } from './sessions'
import type { Usage } from './types'

/** How many recent request records each key keeps. */
export const RECENT_MAX = 100

/** One finished (or failed, or aborted) request, as the relay reports it. */
export interface UsageEvent {
  /** The relay's request id (kept in the recent entry, so a retried record is recognised). */
  requestId: string
  keyId: string
  accountId: string
  model: string
  usage: Usage
  costMicros: number
  /** False when the model has no price (recorded with cost 0 and flagged). */
  priced: boolean
  /** Counted in the usage buckets (false for requests that upstream refused: no tokens). */
  counted: boolean
  aborted: boolean
  status: number
  durationMs: number
  at: Date
  /** The rate window the request was admitted in ('' when the key has none). */
  windowStart: string
  /** The concurrency lease to release ('' when none was taken). */
  leaseId: string
  /** The instance that admitted it, whose in-flight hash lists it (absent in records journalled before it existed). */
  instanceId?: string
  /** The sticky session's hash, for the per-session cache ledger (absent: none). */
  sessionHash?: string
}

/**
 * Record a request with ONE command (the recordUsage script): hour/day/month/all-time buckets
 * for the key, key×model, account, account×model, model and global dimensions (and the minute's
 * RPM/TPM); the session's cache ledger (kept `sessionTtlMs`, 0 = none); the rate window's tokens and
 * cost; the weekly cost; the lease release; the recent-requests list; last-used stamps; its
 * in-flight entry goes (and its lost entry, when it was counted lost and lands after all). A
 * `retry` (the first attempt failed without an answer: it may have landed) first looks for the
 * request id in the key's recent list and records nothing when it is there; false then.
 */
export async function recordUsage(redis: Redis, e: UsageEvent, retry = false, sessionTtlMs = 0): Promise<boolean> {
  const b = bucketIds(e.at)
  const delta = e.counted ? packDelta(e.usage, e.costMicros, e.aborted) : '0'
  const recent = JSON.stringify({
    id: e.requestId, at: e.at.toISOString(), model: e.model, accountId: e.accountId, status: e.status, durationMs: e.durationMs,
    ...e.usage, costMicros: e.costMicros, priced: e.priced, aborted: e.aborted,
  })
  const already = await redis.recordUsage(
    rk.usageBucket('hour', b.hour), rk.usageBucket('day', b.day), rk.usageBucket('month', b.month), rk.usageTotal(),
    rk.rateWindow(e.keyId), rk.leases(e.keyId), rk.weeklyCost(weekId(e.at), e.keyId), rk.usageRecent(e.keyId),
    rk.lastUsed(), rk.usageKeyModels(e.keyId), rk.usageModels(), rk.usageSessions(e.keyId),
    rk.inflight(e.instanceId ?? ''), rk.usageLost(), rk.usageLostAt(),
    dim.all, dim.key(e.keyId), dim.keyModel(e.keyId, e.model), dim.account(e.accountId), dim.model(e.model),
    delta, BUCKET_TTL_SECONDS.hour, BUCKET_TTL_SECONDS.day, BUCKET_TTL_SECONDS.month,
    e.windowStart, e.leaseId, recent, RECENT_MAX, e.at.toISOString(), dim.key(e.keyId), dim.account(e.accountId),
    e.model, 15 * 86_400, retry && e.requestId ? `"id":${JSON.stringify(e.requestId)}` : '', e.requestId,
    dim.accountModel(e.accountId, e.model), dim.minute(b.minute), ...sessionArgs(e.sessionHash, e.model, sessionTtlMs, e.at.getTime()),
  )
  return already === 0
}

/** The API's view of counters: tokens by kind, cost in USD (and exact micro-USD). */
export function countersView(c: Counters) {
  return { ...c, cost: c.costMicros / 1e6 }
}

export interface DailyUsage extends ReturnType<typeof countersView> { date: string, models: Record<string, ReturnType<typeof countersView>> }

/** A key's all-time totals and its last `days` daily buckets (newest first), per model too. */
export async function readKeyUsage(redis: Redis, keyId: string, days: number, now = new Date()) {
  // The model set and the counters are two reads: a request recorded between them would show in
  // the totals but not per model, so such a torn read is taken again (once).
  const first = await readKeyUsageOnce(redis, keyId, days, now)
  const perModel = Object.values(first.total.models).reduce((n, m) => n + m.requests, 0)
  return perModel === first.total.requests ? first : readKeyUsageOnce(redis, keyId, days, now)
}

async function readKeyUsageOnce(redis: Redis, keyId: string, days: number, now: Date) {
  const models = await redis.smembers(rk.usageKeyModels(keyId))
  const fields = [dim.key(keyId), ...models.map(m => dim.keyModel(keyId, m))]
  const dates = Array.from({ length: days }, (_, i) => bucketIds(new Date(now.getTime() - i * 86_400_000)).day)
  const pipe = redis.pipeline().hmget(rk.usageTotal(), ...fields)
  for (const d of dates) pipe.hmget(rk.usageBucket('day', d), ...fields)
  const [totalRow, ...dayRows] = ((await pipe.exec()) ?? []).map(([, v]) => v as (string | null)[])
  const byModel = (row: (string | null)[]) => Object.fromEntries(
    models.map((m, i) => [m, unpack(row[i + 1])] as const).filter(([, c]) => c.requests > 0).map(([m, c]) => [m, countersView(c)]),
  )
  return {
    total: { ...countersView(unpack(totalRow?.[0])), models: byModel(totalRow ?? []) },
    daily: dayRows.map((row, i) => ({ date: dates[i]!, ...countersView(unpack(row[0])), models: byModel(row) })),
  }
}

/** The key's most recent request records, newest first. */
export async function readRecent(redis: Redis, keyId: string, limit = 20): Promise<unknown[]> {
  const rows = await redis.lrange(rk.usageRecent(keyId), 0, Math.min(limit, RECENT_MAX) - 1)
  return rows.map(r => JSON.parse(r))
}
