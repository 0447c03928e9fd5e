import type { ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Dispatcher } from 'undici'
import { type AccountStateRecord, stateFromFailure } from '../accounts/state'
import { useConfig } from '../config'
import { useLogger } from '../logging'
import type { Fail } from '../relay/steps'
import { callUpstream, type UpstreamAnswer } from './answer'
import { ACCOUNT_FAILED, classifyUpstreamError } from './errors'
import type { WaitReport } from './pool'
import { type Outcome, readBounded, type Tap } from './stream'

const MAX_ERROR_BODY = 64 * 1024

/** What the forwarder needs of an account. */
export interface ForwardAccount { id: string, type: string, proxy: string | null }

/** What the forwarder needs of a platform's accounts (`claudeAccounts`, `geminiAccounts`). */
export interface ForwardAccounts<A extends ForwardAccount> {
  ensureFreshToken: (account: A, opts?: { force?: boolean }) => Promise<void>
  dispatcherFor: (account: A) => Dispatcher
  recordAttempt: (accountId: string, ok: boolean, ms: number) => void
  setState: (accountId: string, state: AccountStateRecord | null) => Promise<void>
}

/** One upstream call, built by the protocol from validated parts only. */
export interface UpstreamCall { url: string, method: 'GET' | 'POST', headers: Record<string, string>, body: Buffer | undefined }

/** An answer the relay gives without a call (e.g. a Code Assist onboarding reply). */
export interface LocalAnswer { status: number, headers: Record<string, string>, body: Buffer }

/** What relaying a response is told by the forwarder, and tells it back. */
export interface Delivery {
  /** Stamp the time to first byte: call right before the client's headers are written. */
  headersSent: () => void
  /**
   * The tapped body is being relayed by pump(), which closes it itself (reading on for the usage
   * after the client leaves): the request must no longer be aborted when the client goes.
   */
  pumping: () => void
}

/** A protocol as the forwarder sees it: how to call, judge and relay for one request. */
export interface Forwarding<A extends ForwardAccount, T extends Tap> {
  accounts: ForwardAccounts<A>
  /** The next account to try, never one in `tried` (null: none left). */
  pick: (tried: ReadonlySet<string>) => Promise<A | null>
  /** Build the call for an account (throws when the account cannot be used: the next one is tried). */
  call: (account: A) => Promise<UpstreamCall | LocalAnswer>
  /** Called when `call` threw, before the next account is tried (e.g. mark the account). */
  callFailed?: (account: A, err: unknown) => Promise<void>
  /** Statuses that may be about the account: their body is read (bounded) before deciding. */
  accountStatuses: ReadonlySet<number>
  /** The account's new state from such an answer, or null: the answer is the client's (relayed as is). */
  stateFrom: (account: A, status: number, headers: Dispatcher.ResponseData['headers'], body: Buffer) => Promise<AccountStateRecord | null>
  /** An upstream answer read into a buffer (an error passed through), as the client gets it: its headers from an allow-list, a translating protocol's body in the client's shape. */
  buffered: (status: number, headers: Dispatcher.ResponseData['headers'], body: Buffer) => LocalAnswer
  /**
   * Before failing over from an account an answer put into a state (a 429 …): wait `ms` and try the
   * same account again (once), or move on. Null: no choice to make (the answer is not about a
   * conversation worth keeping on its account). The choice goes into the request's log line.
   */
  waitFor?: (account: A, status: number, headers: Dispatcher.ResponseData['headers'], state: AccountStateRecord) => Promise<WaitChoice | null>
  /** Seen on every answer that came back (rate-limit windows, sticky sessions). */
  answered?: (account: A, status: number, headers: Dispatcher.ResponseData['headers']) => void
  /** Relay an answer that is not about the account; returns how it ended and the usage tap. */
  deliver: (up: UpstreamAnswer, res: ServerResponse, d: Delivery) => Promise<{ outcome: Outcome, tap: T | null }>
  /** Errors in the client's protocol. */
  fail: Fail
}

/** Wait for an account's limit to lift and try it again, or move to another account. */
export type WaitChoice = { choice: 'wait', ms: number } | { choice: 'move' }

/** How forwarding ended (the pipeline records and logs it). */
export interface Forwarded<A, T> {
  account: A
  attempts: number
  /** The last upstream status (0: none). */
  status: number
  outcome: Outcome
  tap: T | null
  /** ms from `startedAt` to the client's response headers (null: none sent). */
  ttfbMs: number | null
  /** ms spent waiting for an upstream connection (the pools fill it in). */
  connectionWaitMs: number
  /** The error to answer in the client's protocol when no account could serve (thrown by the pipeline after recording). */
  error: Error | null
  /** What `waitFor` chose for this request (absent: it had no choice to make). */
  waitChoice?: WaitChoice['choice']
}

/** Send a buffered answer (headers with its length); the request is done. */
export function sendAnswer(res: ServerResponse, b: LocalAnswer, d: Pick<Delivery, 'headersSent'>): Outcome {
  b.headers['content-length'] = String(b.body.length)
  d.headersSent()
  res.writeHead(b.status, b.headers)
  res.end(b.body)
  return 'done'
}

/**
 * Forward one request, failing over while nothing has reached the client: a refused or failed
 * token refresh, an account that cannot be used, a connection error or timeout, or an answer the
 * protocol says is about the account (rate limited, overloaded, refused credentials …) marks the
 * account and the next one is tried, up to MAX_RETRIES accounts; then the last error is answered.
 * An OAuth account answering 401 gets one forced token refresh and is tried again first.
 * An error the client must see in its protocol comes back as `error` (the pipeline records, then throws it).
 */
export async function forwardWithFailover<A extends ForwardAccount, T extends Tap>(
  res: ServerResponse, p: Forwarding<A, T>, first: A, startedAt: number,
): Promise<Forwarded<A, T>> {
  const cfg = useConfig()
  const ac = new AbortController()
  const r: Forwarded<A, T> & WaitReport = { account: first, attempts: 0, status: 0, outcome: 'aborted', tap: null, ttfbMs: null, connectionWaitMs: 0, error: null }
  let pumping = false
  res.once('close', () => {
    if (!res.writableFinished && !pumping) ac.abort()
  })
  const sent = () => {
    r.ttfbMs = Date.now() - startedAt
  }
  const sendBuffered = (b: LocalAnswer) => {
    r.outcome = sendAnswer(res, b, { headersSent: sent })
    return r
  }
  const tried = new Set<string>()
  let account: A | null = first
  let last: LocalAnswer | Error | null = null
  let refreshedAfter401 = false
  let waited = false
  const next = async (failed: LocalAnswer | Error) => {
    last = failed
    account = await p.pick(tried)
  }
  while (account && tried.size < Math.max(1, cfg.relay.maxRetries)) {
    const a: A = account
    tried.add(a.id)
    r.account = a
    r.attempts = tried.size
    try {
      await p.accounts.ensureFreshToken(a)
    }
    catch {
      // The account is marked `error` by the refresh (its log says why); try the next one.
      await next(p.fail(502, 'upstream', ACCOUNT_FAILED.refresh))
      continue
    }
    let call: UpstreamCall | LocalAnswer
    try {
      call = await p.call(a)
    }
    catch (err) {
      await p.callFailed?.(a, err)
      useLogger().warn({ accountId: a.id, reason: (err as Error).message }, 'account could not be used, trying another account')
      await next(p.fail(502, 'upstream', ACCOUNT_FAILED.setup))
      continue
    }
    if (!('url' in call)) {
      r.status = call.status
      return sendBuffered(call)
    }
    let up: UpstreamAnswer
    const sentAt = performance.now()
    try {
      const url = new URL(call.url)
      up = await callUpstream(p.accounts.dispatcherFor(a), {
        origin: url.origin, path: url.pathname + url.search, method: call.method, headers: call.headers,
        body: call.method === 'POST' ? call.body : undefined, headersTimeout: cfg.relay.timeoutMs, bodyTimeout: cfg.relay.timeoutMs,
        waitReport: r,
      } as Dispatcher.DispatchOptions, ac.signal)
    }
    catch (err) {
      if (ac.signal.aborted) return r
      p.accounts.recordAttempt(a.id, false, performance.now() - sentAt)
      const f = classifyUpstreamError(err, a.proxy)
      useLogger().warn({ accountId: a.id, reason: f.detail }, 'upstream failure, trying another account')
      await p.accounts.setState(a.id, stateFromFailure(f.detail, cfg.accountStates))
      Object.assign(r, { outcome: 'failed', status: f.status })
      await next(p.fail(f.status, f.status === 504 ? 'timeout' : 'upstream', f.message))
      continue
    }
    r.status = up.statusCode
    p.accounts.recordAttempt(a.id, up.statusCode < 500 && up.statusCode !== 429, performance.now() - sentAt)
    p.answered?.(a, up.statusCode, up.headers)
    if (up.statusCode === 401 && a.type === 'oauth' && !refreshedAfter401) {
      // The token may have been revoked or rotated elsewhere: refresh once and retry this account.
      await readBounded(up.body, MAX_ERROR_BODY)
      refreshedAfter401 = true
      try {
        await p.accounts.ensureFreshToken(a, { force: true })
        tried.delete(a.id)
        continue
      }
      catch {
        await next(p.fail(502, 'upstream', ACCOUNT_FAILED.refresh))
        continue
      }
    }
    if (p.accountStatuses.has(up.statusCode)) {
      const body = await readBounded(up.body, MAX_ERROR_BODY)
      const buffered = p.buffered(up.statusCode, up.headers, body)
      const state = await p.stateFrom(a, up.statusCode, up.headers, body)
      if (!state) return sendBuffered(buffered)
      await p.accounts.setState(a.id, state)
      const wait = waited ? null : await p.waitFor?.(a, up.statusCode, up.headers, state)
      if (wait) r.waitChoice = wait.choice
      if (wait?.choice === 'wait') {
        // The account stays marked for other requests; this one waits for the reset and tries it again.
        waited = true
        useLogger().info({ accountId: a.id, waitMs: wait.ms, status: up.statusCode }, 'waiting for the account\'s limit to lift instead of moving the conversation')
        try {
          await sleep(wait.ms, undefined, { signal: ac.signal })
        }
        catch {
          return r // the client left while waiting
        }
        tried.delete(a.id)
        continue
      }
      useLogger().warn({ accountId: a.id, state: state.state, status: up.statusCode }, 'account marked, trying another account')
      r.outcome = 'failed'
      await next(buffered)
      continue
    }
    let delivered: Awaited<ReturnType<typeof p.deliver>>
    try {
      delivered = await p.deliver(up, res, {
        headersSent: sent,
        pumping: () => {
          pumping = true
        },
      })
    }
    catch (err) {
      up.body.destroy() // a body nobody will read must not hold its connection
      throw err
    }
    r.outcome = delivered.outcome
    r.tap = delivered.tap
    return r
  }
  const failed = last as LocalAnswer | Error | null
  if (failed instanceof Error) r.error = failed
  else if (failed) return sendBuffered({ ...failed, headers: { ...failed.headers, 'x-relay-attempts': String(tried.size) } })
  return r
}
