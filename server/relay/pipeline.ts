import type { IncomingMessage } from 'node:http'
import type { H3Event } from 'h3'
import type { SessionRef } from '../accounts/sticky'
import type { Exclusion, Unavailable } from '../accounts/unavailable'
import type { ApiKeyRecord } from '../keys'
import { checkAccess } from '../keys/access'
import { keepLease } from '../keys/admission'
import { useConfig } from '../config'
import { useLogger } from '../logging'
import { useRedis } from '../store/redis'
import { type ForwardAccount, type Forwarded, type Forwarding, forwardWithFailover, type LocalAnswer, sendAnswer } from '../upstream/forward'
import type { Tap } from '../upstream/stream'
import type { Protocol } from '../usage/lost'
import type { Usage } from '../usage/types'
import { admitOrFail, authenticate, checkModelName, type Fail, logRequest, readJsonBody, recordRequest, relayRequest, releaseAdmission } from './steps'

type Json = Record<string, unknown>

/** What the pipeline needs of a request, as its protocol parsed it. */
export interface ParsedRequest {
  /** The model checked against the key's lists and recorded ('' when the call names none). */
  model: string
  /** Check the key's model lists (false for setup calls and model listings, which name none). */
  modelChecked: boolean
  stream: boolean
  /** Spends upstream tokens: every limit is checked, the request counted and its usage recorded. */
  record: boolean
  /** The route's name in the log line and metrics (bounded: from the protocol's own set). */
  route: string
  /** The conversation's hash for sticky routing (null: none). */
  sessionHash: string | null
}

/** What a protocol's usage tap reports once the answer ended. */
export interface UsageTap extends Tap {
  readonly usage: Usage | null
  readonly model: string | null
}

/** Everything a protocol's forwarding gets for one request. */
export interface RequestContext<R, P extends ParsedRequest = ParsedRequest> {
  req: IncomingMessage
  route: R
  parsed: P
  key: ApiKeyRecord
  raw: Buffer
  json: Json
  session: SessionRef | null
}

/** What the pipeline needs of a platform's accounts. */
export interface PipelineAccounts<A> {
  /** The next account for this key and model (the model matters to window-aware scheduling: Opus has its own weekly share). */
  pickFor: (key: ApiKeyRecord, exclude?: ReadonlySet<string>, session?: SessionRef | null, model?: string) => Promise<A | null>
  unavailable: (key: ApiKeyRecord, exclusion?: Exclusion | null) => Promise<Unavailable>
}

/**
 * A client protocol: how to read a request, and how to forward it (`Forwarding`). The pipeline
 * does the rest, the same way for every protocol.
 */
export interface ProtocolAdapter<R, A extends ForwardAccount, T extends UsageTap, P extends ParsedRequest = ParsedRequest> {
  platform: 'claude' | 'gemini'
  protocol: Protocol
  fail: Fail
  accounts: PipelineAccounts<A>
  /** The route carries a JSON body. */
  hasBody: (route: R) => boolean
  /**
   * The parts the pipeline needs (and any the protocol keeps for forwarding); throws the
   * protocol's error for a request it refuses. A translating protocol translates here (async:
   * it may resolve images), so a request it cannot translate is refused before any account is picked.
   */
  parse: (route: R, json: Json, req: IncomingMessage) => P | Promise<P>
  /** Accounts this request cannot use, and why (e.g. Gemini CLI's calls need an OAuth account); null: none. */
  exclude?: (route: R) => Promise<Exclusion | null>
  /** An answer the relay gives itself for this account (no upstream call), else null. */
  local?: (route: R, account: A) => LocalAnswer | null
  /** How this request is forwarded (`pick` chooses the next account). */
  forwarding: (ctx: RequestContext<R, P>, pick: (tried: ReadonlySet<string>) => Promise<A | null>) => Forwarding<A, T>
}

const NONE: ReadonlySet<string> = new Set()
const EMPTY = { raw: Buffer.alloc(0), json: {} as Json }

/**
 * Relay one request of any protocol (`resolveRoute` reads its method and path): route → key → body (bounded) → the protocol's parse → model
 * name and access checks → account → admission → forward with failover → record → one log line.
 */
export function runPipeline<R, A extends ForwardAccount, T extends UsageTap, P extends ParsedRequest>(event: H3Event, adapter: ProtocolAdapter<R, A, T, P>, resolveRoute: () => R): Promise<void> {
  return relayRequest(event.node.res, requestId => relayOne(event, adapter, resolveRoute, requestId))
}

async function relayOne<R, A extends ForwardAccount, T extends UsageTap, P extends ParsedRequest>(event: H3Event, adapter: ProtocolAdapter<R, A, T, P>, resolveRoute: () => R, requestId: string): Promise<void> {
  const { req, res } = event.node
  const { fail } = adapter
  // The route, from the method and path alone: refused before the key is checked.
  const route = resolveRoute()
  const key = await authenticate(req, fail)
  const { raw, json } = adapter.hasBody(route) ? await readJsonBody(req, useConfig().relay.maxBodyBytes, fail) : EMPTY
  const parsed = await adapter.parse(route, json, req)
  checkModelName(parsed.model, fail)
  const denied = checkAccess(parsed.modelChecked ? key : { ...key, allowedModels: [], blockedModels: [] }, adapter.platform, parsed.model, req.headers['user-agent'])
  if (denied) throw fail(403, 'permission', denied.message)
  const session = parsed.sessionHash ? { keyId: key.id, hash: parsed.sessionHash } : null
  const exclusion = (await adapter.exclude?.(route)) ?? null
  const exclude = exclusion?.ids ?? NONE
  const pick = (tried: ReadonlySet<string>) => adapter.accounts.pickFor(key, exclude.size ? new Set([...tried, ...exclude]) : tried, session, parsed.model)
  const first = await pick(NONE)
  if (!first) {
    const why = await adapter.accounts.unavailable(key, exclusion)
    useLogger().warn({ reqId: requestId, keyId: key.id, accounts: why.detail }, `no ${adapter.platform} account can serve`)
    throw fail(503, 'no_account', why.message, why.retryAfter ? { 'retry-after': String(why.retryAfter) } : {})
  }
  // Routes that spend tokens are admitted against every limit and recorded; the others (token
  // counts, model lists, setup calls) hold a concurrency lease, checking expiry, while they run.
  const admission = await admitOrFail(key, fail, parsed.record ? { requestId, accountId: first.id, model: parsed.model, protocol: adapter.protocol } : null)
  const stopLease = keepLease(useRedis(), key.id, admission.leaseId)
  const startedAt = new Date()
  let result: Forwarded<A, T> = { account: first, attempts: 0, status: 0, outcome: 'aborted', tap: null, ttfbMs: null, connectionWaitMs: 0, error: null }
  try {
    const local = adapter.local?.(route, first)
    if (local) {
      result.status = local.status
      result.outcome = sendAnswer(res, local, { headersSent: () => (result.ttfbMs = Date.now() - startedAt.getTime()) })
    }
    else {
      const forwarding = adapter.forwarding({ req, route, parsed, key, raw, json, session }, pick)
      result = await forwardWithFailover(res, forwarding, first, startedAt.getTime())
    }
  }
  finally {
    stopLease()
    const served = {
      accountId: result.account.id, model: result.tap?.model ?? null, usage: result.tap?.usage ?? null,
      outcome: result.outcome, status: result.status, startedAt,
    }
    const costMicros = parsed.record ? await recordRequest(key, parsed.model, admission, served, requestId, parsed.sessionHash) : null
    if (!parsed.record) await releaseAdmission(key, admission)
    logRequest({
      ...served, requestId, platform: adapter.platform, route: parsed.route, keyId: key.id, model: served.model ?? parsed.model,
      stream: parsed.stream, attempts: result.attempts, ttfbMs: result.ttfbMs, connectionWaitMs: result.connectionWaitMs, costMicros, waitChoice: result.waitChoice,
    })
  }
  if (result.error) throw result.error
}
