import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { apiKeys, keyRejection, type ApiKeyRecord } from '../keys'
import { type Admission, admit, admitLease, hasLimits, isDenial, releaseLease } from '../keys/admission'
import { extractApiKey } from '../keys/extract'
import { useLogger, useRequestLogger } from '../logging'
import { activeRelays, observeRequest, timeRedis } from '../metrics'
import { useConfig } from '../config'
import { storeReady, useRedis } from '../store/redis'
import { BodyTooLargeError, readBodyLimited } from '../upstream/body'
import type { Outcome } from '../upstream/stream'
import { pricing } from '../usage/pricing-store'
import { useJournal } from '../usage/journal-store'
import { inflightMark, instanceId, type Protocol } from '../usage/lost'
import { emptyUsage, type Usage } from '../usage/types'
import { isModelName, MODEL_NAME_RULE } from './model-name'

/**
 * The protocol-neutral steps of relaying a request (key, body, admission, recording). Each
 * protocol passes `fail`, which turns a refusal into its own error shape.
 */
export type FailKind = 'auth' | 'permission' | 'rate_limit' | 'invalid' | 'too_large' | 'unavailable' | 'no_account' | 'upstream' | 'timeout'
export type Fail = (status: number, kind: FailKind, message: string, headers?: Record<string, string>) => Error

/** What a client is told while Redis does not answer (each protocol's handler sends it as a 503). */
export const STORE_UNAVAILABLE = 'The relay\'s store is unavailable right now; try again in a few seconds.'
export const STORE_RETRY_AFTER = { 'retry-after': '2' }

/**
 * A JSON body nested deeper than the stack allows parses, but serialising it again overflows the
 * stack: the handlers answer that as the client's error (400), not a 500.
 */
export const TOO_DEEP = 'Request body is nested too deeply.'
export const isTooDeep = (err: unknown): boolean => err instanceof RangeError && /call stack/i.test(err.message)

/** A 503 for a request that needs Redis while it is away (REDIS_OUTAGE decides which do). */
const storeDown = (fail: Fail) => fail(503, 'unavailable', STORE_UNAVAILABLE, STORE_RETRY_AFTER)

/** Authenticate the calling key (cached lookup). */
export async function authenticate(req: IncomingMessage, fail: Fail): Promise<ApiKeyRecord> {
  if (!storeReady() && useConfig().redis.outage === 'refuse-all') throw storeDown(fail)
  const raw = extractApiKey(req.headers, req.url)
  if (!raw) throw fail(401, 'auth', 'Missing API key: send your cr_ key as x-api-key, x-goog-api-key, ?key= or Authorization: Bearer.')
  const key = await apiKeys.lookup(raw)
  const why = keyRejection(key)
  if (why) throw fail(401, 'auth', `${why}.`)
  return key!
}

/** Read the body (bounded by REQUEST_MAX_SIZE_MB) and parse it as a JSON object. */
export async function readJsonBody(req: IncomingMessage, limit: number, fail: Fail): Promise<{ raw: Buffer, json: Record<string, unknown> }> {
  let raw: Buffer
  try {
    raw = await readBodyLimited(req, limit)
  }
  catch (err) {
    if (err instanceof BodyTooLargeError) throw fail(413, 'too_large', err.message, { connection: 'close' })
    throw fail(400, 'invalid', 'Could not read the request body.')
  }
  let json: unknown
  try {
    json = JSON.parse(raw.toString('utf8'))
  }
  catch {
    throw fail(400, 'invalid', 'Request body is not valid JSON.')
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw fail(400, 'invalid', 'Request body must be a JSON object.')
  return { raw, json: json as Record<string, unknown> }
}

/** Refuse a model name that could not be a model (stored, logged and labelled only once valid); '' passes (the upstream answers). */
export function checkModelName(model: string, fail: Fail): void {
  if (model && !isModelName(model)) throw fail(400, 'invalid', `Invalid model name: ${MODEL_NAME_RULE}.`)
}

/** A request that spends upstream tokens and will be recorded: what its in-flight entry says. */
export interface Spend { requestId: string, accountId: string, model: string, protocol: Protocol }

/**
 * Admit a request in one Redis call, or refuse (429 / 401). With `spend` (routes that spend
 * upstream tokens) every limit is checked, the request counted, and it is listed in this
 * instance's in-flight hash until recorded (counted lost if the instance dies first); without
 * (count_tokens, model lists, setup calls) expiry is checked and a concurrency lease taken only —
 * give it back with `releaseAdmission`.
 */
export async function admitOrFail(key: ApiKeyRecord, fail: Fail, spend: Spend | null): Promise<Admission> {
  // A key with limits cannot be admitted without Redis: refuse at once instead of waiting.
  if (!storeReady() && hasLimits(key)) throw storeDown(fail)
  const a = await timeRedis('admit', () => (spend
    ? admit(useRedis(), key, new Date(), inflightMark(spend.requestId, { keyId: key.id, accountId: spend.accountId, model: spend.model, protocol: spend.protocol }))
    : admitLease(useRedis(), key)))
  if (!isDenial(a)) return a
  throw fail(a.status, a.status === 401 ? 'auth' : 'rate_limit', a.message, a.retryAfter ? { 'retry-after': String(a.retryAfter) } : {})
}

/** Release the lease of a request that is not recorded (admitted with `lease`). */
export async function releaseAdmission(key: ApiKeyRecord, a: Admission): Promise<void> {
  try {
    await releaseLease(useRedis(), key.id, a.leaseId)
  }
  catch (err) {
    useLogger().warn({ err, keyId: key.id }, 'lease release failed (it expires by itself)')
  }
}

let inflight = 0
let drained: (() => void) | null = null

/** Count a relayed request as in flight until the returned function is called (shutdown waits for it). */
export function trackRelay(): () => void {
  inflight++
  activeRelays.inc()
  let done = false
  return () => {
    if (done) return
    done = true
    activeRelays.dec()
    if (--inflight === 0) drained?.()
  }
}

/** Wait until no relayed request is in flight (their usage recorded), at most `ms`. */
export function drainRelays(ms: number): Promise<void> {
  if (inflight === 0) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    drained = () => {
      clearTimeout(timer)
      resolve()
    }
  })
}

/**
 * Run one relayed request: it gets an id (returned to the client as `x-request-id`, and in its log
 * line) and counts as in flight until it is done, so a shutdown waits for it.
 */
export async function relayRequest(res: ServerResponse, fn: (requestId: string) => Promise<void>): Promise<void> {
  const id = randomUUID()
  res.setHeader('x-request-id', id)
  const untrack = trackRelay()
  try {
    await fn(id)
  }
  finally {
    untrack()
  }
}

/** How a relayed request ended, for recording. */
export interface Served {
  accountId: string
  /** The model the answer named (else the requested one is recorded). */
  model: string | null
  /** Usage read from the answer; null when no usable answer was read. */
  usage: Usage | null
  outcome: Outcome
  status: number
  startedAt: Date
}

const unpricedSeen = new Set<string>()
const UNPRICED_WARNINGS = 1000

/**
 * The model a request is recorded under: the answer's (when it has a model's shape), else the
 * requested one when the upstream answered it or the price table knows it, else `other` — so
 * requests that never reached a model cannot add attacker-chosen names to Redis.
 */
function recordedModel(answered: string | null, requested: string, confirmed: boolean, priced: (model: string) => boolean): string {
  if (answered && isModelName(answered)) return answered
  if (requested && isModelName(requested) && (confirmed || priced(requested))) return requested
  return requested ? 'other' : 'unknown'
}

/**
 * Record one request (one Redis call): counted when a response carried usage, or when the
 * client left before any answer (with what was seen). Upstream errors only release the lease.
 * Every ending goes through here, so the request always leaves the in-flight hash.
 */
export async function recordRequest(key: ApiKeyRecord, requested: string, admission: Admission, s: Served, requestId: string, sessionHash: string | null): Promise<number> {
  const table = await pricing.tableForRecording()
  const model = recordedModel(s.model, requested, s.usage !== null, m => table.resolve(m) !== null)
  const usage = s.usage ?? emptyUsage()
  const counted = s.usage !== null || (s.outcome === 'aborted' && s.status === 0)
  const { micros, known } = table.costMicros(model, usage)
  if (counted && !known && !unpricedSeen.has(model) && unpricedSeen.size < UNPRICED_WARNINGS) {
    unpricedSeen.add(model)
    useLogger().warn({ model }, 'model has no price: recorded with cost 0 (add a price in the admin pricing table)')
  }
  // Written now, or journalled until Redis answers again (never lost, never counted twice).
  await useJournal().submit({
    requestId, keyId: key.id, accountId: s.accountId, model, usage, costMicros: micros, priced: known, counted,
    aborted: s.outcome !== 'done', status: s.status, durationMs: Date.now() - s.startedAt.getTime(),
    at: s.startedAt, windowStart: admission.windowStart, leaseId: admission.leaseId, instanceId, ...(sessionHash ? { sessionHash } : {}),
  })
  return micros
}

/** What the one log line of a relayed request says (ids and numbers only: never a key, token or prompt). */
export interface RequestLogLine {
  requestId: string
  platform: 'claude' | 'gemini'
  route: string
  keyId: string
  accountId: string | null
  model: string
  stream: boolean
  status: number
  attempts: number
  ttfbMs: number | null
  /** ms spent waiting for an upstream connection (0: one was free). */
  connectionWaitMs: number
  startedAt: Date
  usage: Usage | null
  costMicros: number | null
  outcome: Outcome
  /** Cache-aware failover's choice for this request, when it had one to make. */
  waitChoice?: 'wait' | 'move'
}

/** One line per relayed request. */
export function logRequest(l: RequestLogLine): void {
  const u = l.usage
  const durationMs = Date.now() - l.startedAt.getTime()
  // Metric labels only from a bounded set: priced models, else `other`.
  observeRequest({ ...l, model: pricing.knownNow(l.model) ? l.model : 'other', durationMs, aborted: l.outcome !== 'done' })
  useRequestLogger().info({
    reqId: l.requestId, platform: l.platform, route: l.route, keyId: l.keyId, accountId: l.accountId, model: isModelName(l.model) ? l.model : 'other', stream: l.stream,
    status: l.status, attempts: l.attempts, ttfbMs: l.ttfbMs, connWaitMs: Math.round(l.connectionWaitMs), durationMs,
    tokens: u ? { input: u.inputTokens, output: u.outputTokens, cacheCreate: u.cacheCreate5m + u.cacheCreate1h, cacheRead: u.cacheRead } : null,
    costMicros: l.costMicros, aborted: l.outcome !== 'done', ...(l.waitChoice ? { cacheChoice: l.waitChoice } : {}),
  }, 'request')
}
