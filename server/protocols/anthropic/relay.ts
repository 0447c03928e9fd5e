import type { IncomingMessage } from 'node:http'
import type { H3Event } from 'h3'
import { claudeAccounts } from '../../accounts'
import { useConfig } from '../../config'
import { apiKeys, keyRejection, type ApiKeyRecord } from '../../keys'
import { checkAccess } from '../../keys/access'
import { type Admission, admit, isDenial, keepLease } from '../../keys/admission'
import { extractApiKey } from '../../keys/extract'
import { useLogger } from '../../logging'
import { useRedis } from '../../store/redis'
import { BodyTooLargeError, readBodyLimited } from '../../upstream/body'
import { pricing } from '../../usage/pricing-store'
import { recordUsage } from '../../usage/record'
import { emptyUsage } from '../../usage/types'
import { type Finished, forwardWithFailover } from './forward'
import { AnthropicError } from './handler'
import { sessionHash } from './session'

/** Authenticate the calling key (cached lookup); throws a 401 in Anthropic's shape. */
export async function requireClientKey(req: IncomingMessage): Promise<ApiKeyRecord> {
  const raw = extractApiKey(req.headers, req.url)
  if (!raw) throw new AnthropicError(401, 'authentication_error', 'Missing API key: send your cr_ key as x-api-key or Authorization: Bearer.')
  const key = await apiKeys.lookup(raw)
  const why = keyRejection(key)
  if (why) throw new AnthropicError(401, 'authentication_error', `${why}.`)
  return key!
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<{ raw: Buffer, json: Record<string, unknown> }> {
  let raw: Buffer
  try {
    raw = await readBodyLimited(req, limit)
  }
  catch (err) {
    if (err instanceof BodyTooLargeError) throw new AnthropicError(413, 'request_too_large', err.message, { connection: 'close' })
    throw new AnthropicError(400, 'invalid_request_error', 'Could not read the request body.')
  }
  let json: unknown
  try {
    json = JSON.parse(raw.toString('utf8'))
  }
  catch {
    throw new AnthropicError(400, 'invalid_request_error', 'Request body is not valid JSON.')
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new AnthropicError(400, 'invalid_request_error', 'Request body must be a JSON object.')
  return { raw, json: json as Record<string, unknown> }
}

export interface RelayOptions {
  /** Upstream path: /v1/messages or /v1/messages/count_tokens. */
  path: string
  /** Count tokens and requests for this route. */
  record: boolean
}

/** Relay one Claude Messages-API request: auth → access → account → admission → forward (with failover) → record. */
export async function relayAnthropic(event: H3Event, opts: RelayOptions): Promise<void> {
  const { req, res } = event.node
  const cfg = useConfig()
  const key = await requireClientKey(req)
  const { raw, json } = await readJsonBody(req, cfg.relay.maxBodyBytes)
  const requested = typeof json.model === 'string' ? json.model : ''
  const denied = checkAccess(key, 'claude', requested, req.headers['user-agent'])
  if (denied) throw new AnthropicError(403, 'permission_error', denied.message)
  const hash = sessionHash(json)
  const session = hash ? { keyId: key.id, hash } : null
  const account = await claudeAccounts.pickFor(key, undefined, session)
  if (!account) {
    throw new AnthropicError(503, 'overloaded_error', `No Claude account can serve this request (${await claudeAccounts.unavailableReasons(key)}).`)
  }
  // count_tokens is free upstream: it is neither limited nor recorded.
  const admission = opts.record ? await admitOrThrow(key) : null
  const stopLease = admission ? keepLease(useRedis(), key.id, admission.leaseId) : () => {}
  const done: Finished = { tap: null, outcome: 'aborted', status: 0, startedAt: new Date(), account, attempts: 0 }
  try {
    await forwardWithFailover(req, res, { key, session, first: account, raw, path: opts.path, record: opts.record }, done)
  }
  finally {
    stopLease()
    if (admission) await record(key, requested, admission, done)
  }
}

async function admitOrThrow(key: ApiKeyRecord): Promise<Admission> {
  const a = await admit(useRedis(), key)
  if (!isDenial(a)) return a
  const headers: Record<string, string> = a.retryAfter ? { 'retry-after': String(a.retryAfter) } : {}
  throw new AnthropicError(a.status, a.status === 401 ? 'authentication_error' : 'rate_limit_error', a.message, headers)
}

const unpricedSeen = new Set<string>()

async function record(key: ApiKeyRecord, requested: string, admission: Admission, done: Finished): Promise<void> {
  const { account } = done
  const model = done.tap?.model ?? (requested || 'unknown')
  const usage = done.tap?.usage ?? emptyUsage()
  // Counted: a response that carried usage, or a client that left before any answer (a request
  // with what was seen). Upstream errors and failures only release the lease and log the request.
  const counted = done.tap !== null || (done.outcome === 'aborted' && done.status === 0)
  const { micros, known } = await pricing.cost(model, usage)
  if (counted && !known && !unpricedSeen.has(model)) {
    unpricedSeen.add(model)
    useLogger().warn({ model }, 'model has no price: recorded with cost 0 (add a price in the admin pricing table)')
  }
  try {
    await recordUsage(useRedis(), {
      keyId: key.id, accountId: account.id, model, usage, costMicros: micros, priced: known, counted,
      aborted: done.outcome !== 'done', status: done.status, durationMs: Date.now() - done.startedAt.getTime(),
      at: done.startedAt, windowStart: admission.windowStart, leaseId: admission.leaseId,
    })
  }
  catch (err) {
    useLogger().error({ err, keyId: key.id, accountId: account.id }, 'usage recording failed')
  }
}
