import type { IncomingMessage } from 'node:http'
import { claudeAccounts } from '../../accounts'
import type { AccountStateRecord } from '../../accounts/state'
import type { SessionRef } from '../../accounts/sticky'
import { useConfig } from '../../config'
import { useRedis } from '../../store/redis'
import { rk } from '../../store/keys'
import type { WaitChoice } from '../../upstream/forward'
import { parseSessions } from '../../usage/sessions'

/** Never wait so close to the client's own deadline that the answer could not start before it. */
const DEADLINE_MARGIN_MS = 2000

/**
 * The conversation's cached prefix, from its prompt-cache ledger: the cache tokens (read or written)
 * of its average request (all models it used: the ledger keys them by the model that answered).
 * 0 when it has none on record.
 */
export async function cachedPrefix(session: SessionRef): Promise<number> {
  const s = parseSessions(await useRedis().hgetall(rk.usageSessions(session.keyId)), 0).get(session.hash)
  if (!s) return 0
  let requests = 0
  let cached = 0
  for (const c of s.models.values()) {
    requests += c.requests
    cached += c.cacheRead + c.cacheCreate5m + c.cacheCreate1h
  }
  return requests ? Math.round(cached / requests) : 0
}

/**
 * The client's own deadline, when it said one: Stainless-built SDKs (the Anthropic and OpenAI SDKs,
 * Claude Code) send their request timeout in `x-stainless-timeout` (seconds).
 */
export function clientDeadline(req: IncomingMessage, startedAt: number): number | null {
  const raw = req.headers['x-stainless-timeout']
  const seconds = typeof raw === 'string' && /^\d{1,6}(\.\d{1,3})?$/.test(raw) ? Number(raw) : 0
  return seconds > 0 ? startedAt + seconds * 1000 : null
}

/** The pure choice: wait when the limit lifts within the bound (the relay's maximum, the client's deadline), else move. */
export function waitOrMove(resetInMs: number, prefixTokens: number, o: { maxMs: number, minTokens: number, deadlineInMs: number | null }): WaitChoice | null {
  if (o.maxMs <= 0 || prefixTokens < o.minTokens) return null
  const bound = Math.min(o.maxMs, o.deadlineInMs === null ? Number.POSITIVE_INFINITY : o.deadlineInMs - DEADLINE_MARGIN_MS)
  return resetInMs >= 0 && resetInMs <= bound ? { choice: 'wait', ms: resetInMs } : { choice: 'move' }
}

/**
 * Cache-aware failover for one Claude request: when its conversation's own account answers 429 and
 * the conversation has a large cached prefix there, waiting a few seconds for the limit to lift
 * can be cheaper than writing the whole prefix into another account's cache. Decided from the
 * ledger and the reset time, bounded by CACHE_WAIT_MAX_SECONDS and the client's own timeout.
 */
export function cacheWaiter(session: SessionRef | null, deadline: number | null) {
  return async (account: { id: string }, status: number, _headers: unknown, state: AccountStateRecord): Promise<WaitChoice | null> => {
    const { maxMs, minTokens } = useConfig().cacheWait
    if (status !== 429 || !session || maxMs <= 0 || !state.until) return null
    if (await claudeAccounts.boundAccount(session) !== account.id) return null
    const now = Date.now()
    return waitOrMove(state.until - now, await cachedPrefix(session), { maxMs, minTokens, deadlineInMs: deadline === null ? null : deadline - now })
  }
}
