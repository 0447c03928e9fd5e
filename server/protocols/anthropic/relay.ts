import type { IncomingMessage } from 'node:http'
import type { H3Event } from 'h3'
import { type ClaudeAccount, claudeAccounts } from '../../accounts'
import type { SessionRef } from '../../accounts/sticky'
import { anthropicStateFromResponse, windowFromHeaders } from './account-state'
import { claudeClientExclusion, isClaudeCode } from './clients'
import { cacheWaiter, clientDeadline } from './cache-wait'
import { headroomFromHeaders } from './headroom'
import { useConfig } from '../../config'
import { type ProtocolAdapter, runPipeline } from '../../relay/pipeline'
import { authenticate, type Fail, type FailKind } from '../../relay/steps'
import type { Forwarding } from '../../upstream/forward'
import { pump, sendHeadersSoon, type Tap } from '../../upstream/stream'
import { type AnthropicErrorType, sseErrorEvent } from './errors'
import { AnthropicError } from './handler'
import { confirmedByProbe } from './probe'
import { ACCOUNT_STATUSES, baseUrl, clientHeaders, upstreamHeaders, upstreamUrl } from './request'
import { sessionHash } from './session'
import { AnthropicUsageTap } from './usage'
import { pollUsageSoon } from './usage-poll'

const ANTHROPIC_TYPE: Record<FailKind, AnthropicErrorType> = {
  auth: 'authentication_error', permission: 'permission_error', rate_limit: 'rate_limit_error', invalid: 'invalid_request_error',
  too_large: 'request_too_large', unavailable: 'api_error', no_account: 'overloaded_error', upstream: 'api_error', timeout: 'timeout_error',
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

/**
 * How a Claude account's answers are judged and remembered, whichever protocol the client spoke
 * (the OpenAI adapter relays into Claude accounts too). `deadline`: the client's own (ms), which a
 * cache-aware wait never passes.
 */
export function claudeJudging(session: SessionRef | null, deadline: number | null = null): Pick<Forwarding<ClaudeAccount, Tap>, 'accountStatuses' | 'stateFrom' | 'answered' | 'waitFor'> {
  const cfg = useConfig()
  return {
    accountStatuses: ACCOUNT_STATUSES,
    waitFor: cacheWaiter(session, deadline),
    // A 401/403 may be about this request alone (a header or body a key holder chose): the
    // account leaves the pool for good only when a request of the relay's own is refused too.
    stateFrom: async (account, status, headers, body) => {
      if (status === 401 || status === 403) return confirmedByProbe(account, status, body)
      const state = anthropicStateFromResponse(status, headers, body.toString('utf8'), cfg.accountStates)
      // How long until the limit lifts is the usage endpoint's to say (subscription accounts).
      if (state?.state === 'rate_limited') pollUsageSoon(account)
      return state
    },
    answered: (account, status, headers) => {
      claudeAccounts.noteWindow(account, windowFromHeaders(headers))
      claudeAccounts.noteHeadroom(account, headroomFromHeaders(headers))
      // The conversation stays with the account that answered it (and moves with a failover).
      if (status >= 200 && status < 300) claudeAccounts.bindSession(session, account.id)
    },
  }
}

/** A Messages-API route as resolved for one request. */
interface AnthropicRoute extends RelayOptions {
  /** Sent by Claude Code (user agent, read once): only then may it reach Claude Code-only accounts. */
  fromClaudeCode: boolean
}

/** The Messages API as an adapter of the relay pipeline (its route: messages or count_tokens). */
const anthropic: ProtocolAdapter<AnthropicRoute, ClaudeAccount, AnthropicUsageTap> = {
  platform: 'claude',
  protocol: 'anthropic',
  fail,
  accounts: claudeAccounts,
  hasBody: () => true,
  parse: (route, json) => ({
    model: typeof json.model === 'string' ? json.model : '',
    modelChecked: true,
    stream: json.stream === true,
    record: route.record,
    route: route.path,
    sessionHash: sessionHash(json),
  }),
  exclude: route => claudeClientExclusion(route.fromClaudeCode),
  forwarding: ({ req, raw, session, route }, pick) => {
    const cfg = useConfig()
    return {
      accounts: claudeAccounts,
      pick,
      fail,
      call: async account => ({
        url: upstreamUrl(baseUrl(account, cfg.claude.apiUrl), route.path, req.url), method: 'POST',
        headers: upstreamHeaders(req, account, raw.length), body: raw,
      }),
      ...claudeJudging(session, clientDeadline(req, Date.now())),
      buffered: (status, headers, body) => ({ status, headers: clientHeaders(headers, false), body }),
      deliver: async (up, res, d) => {
        const sse = String(up.headers['content-type'] ?? '').startsWith('text/event-stream')
        const ok = up.statusCode >= 200 && up.statusCode < 300
        const tap = route.record && ok ? new AnthropicUsageTap(sse) : null
        d.headersSent()
        res.writeHead(up.statusCode, clientHeaders(up.headers, sse))
        if (sse) sendHeadersSoon(res)
        if (tap) d.pumping()
        // The upstream broke mid-body: tell an SSE client the way Anthropic does; cut others off.
        const outcome = await pump(up.body, res, tap, sse ? () => res.end(sseErrorEvent('api_error', 'Upstream connection was lost mid-stream.')) : null)
        return { outcome, tap }
      },
    }
  },
}

/** Relay one Claude Messages-API request through the pipeline (count_tokens is free upstream: a lease only). */
export function relayAnthropic(event: H3Event, opts: RelayOptions): Promise<void> {
  return runPipeline(event, anthropic, () => ({ ...opts, fromClaudeCode: isClaudeCode(event.node.req.headers['user-agent']) }))
}
