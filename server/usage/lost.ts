import { randomBytes } from 'node:crypto'
import type Redis from 'ioredis'
import { rk } from '../store/keys'

/**
 * Requests lost to a crash (issue 13 §6). A request that will be recorded is listed in its
 * instance's in-flight hash when it is admitted and leaves it when its usage is recorded (both
 * inside calls the request makes anyway, or one non-awaited HSET for a key without limits). Each
 * instance keeps an alive key that expires 15 s after its last renewal; any instance's reaper moves
 * the in-flight entries of an instance whose alive key is gone into the lost store, where the
 * operator sees them (`GET /api/admin/usage/lost`, the dashboard, `/metrics` crs_requests_lost).
 */

/** This process's instance id: random at start, so a restarted process is a new instance. */
export const instanceId = randomBytes(8).toString('hex')

/** How long an alive key lives without renewal (the same as a concurrency lease). */
export const ALIVE_MS = 15_000
/** The alive key is renewed, and dead instances reaped, this often. */
export const TICK_MS = ALIVE_MS / 3
/** Lost entries kept (the oldest beyond go). */
export const LOST_MAX = 1000

/** The client protocol a request came in (OpenAI chat completions are relayed into either platform). */
export type Protocol = 'anthropic' | 'gemini' | 'openai'

/** What the in-flight hash says about a running request. */
export interface InflightEntry {
  keyId: string
  /** The account first picked for it ('' when none was). */
  accountId: string
  /** The requested model ('' when none was named). */
  model: string
  /** Admission time, ms. */
  startedAt: number
  protocol: Protocol
}

/** A request counted lost: its in-flight entry, its id, and when the reaper found it (ms). */
export interface LostEntry extends InflightEntry { requestId: string, detectedAt: number }

/** The in-flight hash value of a request (a JSON object: the reaper appends `detectedAt` to it). */
export function inflightEntry(e: InflightEntry): string {
  return JSON.stringify({ keyId: e.keyId, accountId: e.accountId, model: e.model, startedAt: e.startedAt, protocol: e.protocol })
}

/** A lost store value read back; null when it is not one (edited by hand, cut off). */
export function parseLostEntry(requestId: string, value: string): LostEntry | null {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(value) as Record<string, unknown>
  }
  catch {
    return null
  }
  if (!o || typeof o !== 'object' || typeof o.keyId !== 'string') return null
  return {
    requestId, keyId: o.keyId, accountId: typeof o.accountId === 'string' ? o.accountId : '',
    model: typeof o.model === 'string' ? o.model : '', protocol: o.protocol === 'gemini' || o.protocol === 'openai' ? o.protocol : 'anthropic',
    startedAt: Number(o.startedAt) || 0, detectedAt: Number(o.detectedAt) || 0,
  }
}

/** Where and what an admitted request writes into this instance's in-flight hash. */
export interface InflightMark { hash: string, requestId: string, entry: string }

/** The in-flight mark of a request admitted now by this instance. */
export function inflightMark(requestId: string, e: Omit<InflightEntry, 'startedAt'>, now = Date.now()): InflightMark {
  return { hash: rk.inflight(instanceId), requestId, entry: inflightEntry({ ...e, startedAt: now }) }
}

/** The reapLost script's keys and arguments: names built inside the script get the key prefix here. */
function reapArgs(redis: Redis, now: number) {
  const prefix = redis.options.keyPrefix ?? ''
  return [rk.instances(), rk.usageLost(), rk.usageLostAt(), prefix + rk.instance(''), prefix + rk.inflight(''), now, LOST_MAX] as const
}

/** Move the in-flight requests of every dead instance into the lost store (one script); the number moved. */
export const reapLost = (redis: Redis, now = Date.now()): Promise<number> => redis.reapLost(...reapArgs(redis, now))

/**
 * Announce this instance and keep it alive: every TICK_MS one pipeline renews the alive key, keeps
 * the instance listed, and reaps dead instances. Returns `retire` for a clean shutdown (after the
 * usage journal's last flush): the instance leaves when nothing of it is in flight, else its alive
 * key expires and the others count what it left as lost.
 */
export function startInstance(redis: Redis, onError: (err: unknown) => void): { retire: () => Promise<void> } {
  const tick = () => redis.pipeline()
    .set(rk.instance(instanceId), String(process.pid), 'PX', ALIVE_MS)
    .sadd(rk.instances(), instanceId)
    .reapLost(...reapArgs(redis, Date.now()))
    .exec()
    .then((rows) => {
      const err = rows?.find(([e]) => e)?.[0]
      if (err) onError(err)
    }, onError)
  void tick()
  const timer = setInterval(() => void tick(), TICK_MS)
  timer.unref()
  return {
    async retire() {
      clearInterval(timer)
      await redis.retireInstance(rk.instance(instanceId), rk.inflight(instanceId), rk.instances(), instanceId)
    },
  }
}

/** The number of requests in the lost store (read at scrape time). */
export const lostTotal = (redis: Redis): Promise<number> => redis.hlen(rk.usageLost())

/** The newest `limit` lost requests (newest first) and how many are stored, with their keys' names. */
export async function readLost(redis: Redis, limit: number): Promise<{ total: number, entries: (LostEntry & { keyName?: string })[] }> {
  const [[, ids], [, total]] = (await redis.pipeline().zrevrange(rk.usageLostAt(), 0, limit - 1).hlen(rk.usageLost()).exec()) as [[unknown, string[]], [unknown, number]]
  if (!ids.length) return { total, entries: [] }
  const values = await redis.hmget(rk.usageLost(), ...ids)
  const entries = ids.map((id, i) => (values[i] ? parseLostEntry(id, values[i]!) : null)).filter(e => e !== null)
  const keyIds = [...new Set(entries.map(e => e.keyId))]
  const pipe = redis.pipeline()
  for (const id of keyIds) pipe.hget(rk.apiKey(id), 'name')
  const names = new Map(((await pipe.exec()) ?? []).map(([, v], i) => [keyIds[i]!, v as string | null]))
  return { total, entries: entries.map(e => (names.get(e.keyId) ? { ...e, keyName: names.get(e.keyId)! } : e)) }
}
