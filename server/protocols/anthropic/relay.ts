import type { IncomingMessage } from 'node:http'
import type { H3Event } from 'h3'
import { claudeAccounts } from '../../accounts'
import { useConfig } from '../../config'
import { checkAccess } from '../../keys/access'
import { keepLease } from '../../keys/admission'
import { admitOrFail, authenticate, checkModelName, type Fail, type FailKind, logRequest, readJsonBody, recordRequest, relayRequest, releaseAdmission } from '../../relay/steps'
import type { ApiKeyRecord } from '../../keys'
import { useLogger } from '../../logging'
import { useRedis } from '../../store/redis'
import type { AnthropicErrorType } from './errors'
import { type Finished, forwardWithFailover } from './forward'
import { AnthropicError } from './handler'
import { sessionHash } from './session'

const ANTHROPIC_TYPE: Record<FailKind, AnthropicErrorType> = {
  auth: 'authentication_error', permission: 'permission_error', rate_limit: 'rate_limit_error', invalid: 'invalid_request_error', too_large: 'request_too_large', unavailable: 'api_error',
}
const fail: Fail = (status, kind, message, headers) => new AnthropicError(status, ANTHROPIC_TYPE[kind], message, headers)

/** Authenticate the calling key (cached lookup); throws a 401 in Anthropic's shape. */
export const requireClientKey = (req: IncomingMessage) => authenticate(req, fail)

export interface RelayOptions {
  /** Upstream path: /v1/messages or /v1/messages/count_tokens. */
  path: string
  /** Count tokens and requests for this route (else it only holds a concurrency lease). */
  record: boolean
}

/** The 503 when no account can serve: the key holder is told when to retry; the admin's log gets why. */
async function noAccount(key: ApiKeyRecord, requestId: string): Promise<AnthropicError> {
  const why = await claudeAccounts.unavailable(key)
  useLogger().warn({ reqId: requestId, keyId: key.id, accounts: why.detail }, 'no claude account can serve')
  return new AnthropicError(503, 'overloaded_error', why.message, why.retryAfter ? { 'retry-after': String(why.retryAfter) } : {})
}

/** Relay one Claude Messages-API request: auth → access → account → admission → forward (with failover) → record. */
export async function relayAnthropic(event: H3Event, opts: RelayOptions): Promise<void> {
  return relayRequest(event.node.res, requestId => relayTracked(event, opts, requestId))
}

async function relayTracked(event: H3Event, opts: RelayOptions, requestId: string): Promise<void> {
  const { req, res } = event.node
  const cfg = useConfig()
  const key = await requireClientKey(req)
  const { raw, json } = await readJsonBody(req, cfg.relay.maxBodyBytes, fail)
  const requested = typeof json.model === 'string' ? json.model : ''
  checkModelName(requested, fail)
  const denied = checkAccess(key, 'claude', requested, req.headers['user-agent'])
  if (denied) throw new AnthropicError(403, 'permission_error', denied.message)
  const hash = sessionHash(json)
  const session = hash ? { keyId: key.id, hash } : null
  const account = await claudeAccounts.pickFor(key, undefined, session)
  if (!account) throw await noAccount(key, requestId)
  // count_tokens is free upstream: it holds a lease (and checks expiry) but is neither counted nor recorded.
  const admission = await admitOrFail(key, fail, opts.record ? { requestId, accountId: account.id, model: requested, protocol: 'anthropic' } : null)
  const stopLease = keepLease(useRedis(), key.id, admission.leaseId)
  const done: Finished = { tap: null, outcome: 'aborted', status: 0, startedAt: new Date(), account, attempts: 0, ttfbMs: null, connectionWaitMs: 0 }
  try {
    await forwardWithFailover(req, res, { key, session, first: account, raw, path: opts.path, record: opts.record }, done)
  }
  finally {
    stopLease()
    const served = {
      accountId: done.account.id, model: done.tap?.model ?? null, usage: done.tap?.usage ?? null,
      outcome: done.outcome, status: done.status, startedAt: done.startedAt,
    }
    const costMicros = opts.record ? await recordRequest(key, requested, admission, served, requestId) : null
    if (!opts.record) await releaseAdmission(key, admission)
    logRequest({
      ...served, requestId, platform: 'claude', route: opts.path, keyId: key.id, model: served.model ?? requested,
      stream: json.stream === true, attempts: done.attempts, ttfbMs: done.ttfbMs, connectionWaitMs: done.connectionWaitMs, costMicros,
    })
  }
}
