import type Redis from 'ioredis'
import { rk } from '../store/keys'
import { addPacked, type Counters, zeroCounters } from './buckets'
import { type CacheLedger, cacheLedger } from './ledger'
import type { PriceTable } from './pricing'

/**
 * The prompt-cache ledger per sticky session: one hash per key (`usage:sessions:{keyId}`), field
 * `{sessionHash}:{model}` → "packed counters|last request ms", written by the recordUsage script
 * in the same call as the buckets. Bounded like the sticky binding it mirrors: the hash expires
 * the sticky TTL after the key's last session request, entries older than that are not shown,
 * and past SESSION_LEDGER_MAX entries the least recently used go.
 */
export const SESSION_LEDGER_MAX = 200
/** The hash's TTL is pushed forward at most this often (as the sticky binding's), not on every request. */
export const SESSION_TOUCH_MS = 10 * 60_000

/** The field of a session's model (the session hash is the relay's own base64url digest: no ':'). */
export const sessionField = (sessionHash: string, model: string) => `${sessionHash}:${model}`

/** The recordUsage script's session arguments: field ('' = none), the request's time, TTL of the hash, touch interval, cap. */
export function sessionArgs(sessionHash: string | undefined, model: string, ttlMs: number, atMs: number): [string, number, number, number, number] {
  const on = Boolean(sessionHash) && ttlMs > 0
  return [on ? sessionField(sessionHash!, model) : '', atMs, ttlMs + SESSION_TOUCH_MS, SESSION_TOUCH_MS, SESSION_LEDGER_MAX]
}

/** One sticky session's ledger: its models, requests and when it was last used. */
export interface SessionLedger extends CacheLedger {
  session: string
  models: string[]
  requests: number
  lastAt: string
}

/** Parse the hash: per session, its per-model counters and last use, for entries used since `sinceMs`. */
export function parseSessions(h: Record<string, string>, sinceMs: number) {
  const out = new Map<string, { models: Map<string, Counters>, lastMs: number }>()
  for (const [field, value] of Object.entries(h)) {
    const colon = field.indexOf(':')
    const bar = value.lastIndexOf('|')
    const lastMs = Number(value.slice(bar + 1))
    if (colon < 1 || bar < 0 || !(lastMs >= sinceMs)) continue
    const session = field.slice(0, colon)
    const s = out.get(session) ?? { models: new Map<string, Counters>(), lastMs: 0 }
    s.models.set(field.slice(colon + 1), addPacked(zeroCounters(), value.slice(0, bar)))
    s.lastMs = Math.max(s.lastMs, lastMs)
    out.set(session, s)
  }
  return out
}

/** A key's live sessions (used within `ttlMs`), most recently used first, each with its ledger. */
export async function readSessionLedgers(redis: Redis, keyId: string, ttlMs: number, table: PriceTable, now = Date.now()): Promise<SessionLedger[]> {
  const sessions = parseSessions(await redis.hgetall(rk.usageSessions(keyId)), now - ttlMs)
  return [...sessions]
    .map(([session, s]) => ({
      session, models: [...s.models.keys()].sort(), lastAt: new Date(s.lastMs).toISOString(),
      requests: [...s.models.values()].reduce((n, c) => n + c.requests, 0),
      ...cacheLedger(table, s.models),
    }))
    .sort((a, b) => b.lastAt.localeCompare(a.lastAt))
}
