import { request } from 'undici'
import { claudeAccounts, type ClaudeAccount } from '../../accounts'
import { readUsagePolls, type UsagePoll, writeUsagePoll } from '../../accounts/headroom'
import { isSubscription } from '../../accounts/store'
import { useConfig } from '../../config'
import { useLogger } from '../../logging'
import { createSingleFlight } from '../../oauth/single-flight'
import { field } from '../../accounts/state'
import { rk } from '../../store/keys'
import { useRedis } from '../../store/redis'
import { readBounded } from '../../upstream/stream'
import { headroomFromUsage } from './headroom'
import { OAUTH_BETA } from './request'

// Anthropic's OAuth usage endpoint, asked for each subscription account's headroom: every
// CLAUDE_USAGE_POLL_SECONDS and right after the account is rate limited. One poll per account at
// a time across every instance (a Redis lock, as token refreshes have); the schedule (`usage_poll`
// hash) is shared, so N instances do not poll N times as often.

/** At most this much of an answer is read. */
const MAX_BODY = 64 * 1024
const TIMEOUT_MS = 15_000
/** A 403 (a setup token has no usage scope) is asked again this much later. */
const UNAVAILABLE_RETRY_MS = 24 * 3600_000
/** Backoff after a 429 or a failure: the interval (1 min at least) doubling, capped at 6 h. */
const backoffMs = (failures: number, intervalMs: number) => Math.min(Math.max(intervalMs, 60_000) * 2 ** Math.max(0, failures - 1), 6 * 3600_000)

/** Separate from the token refreshes' single-flight: its own in-process map and its own lock key. */
const flights = createSingleFlight({ lockKey: rk.usagePollLock, lockTtlMs: TIMEOUT_MS + 5000, waitMs: TIMEOUT_MS + 5000 })

const readPoll = async (id: string): Promise<UsagePoll | null> => {
  const json = await useRedis().hget(rk.usagePoll(), field('claude', id))
  try {
    return json ? JSON.parse(json) as UsagePoll : null
  }
  catch {
    return null
  }
}

/** The outcome of one call to the endpoint, and when to ask next. */
async function callEndpoint(account: ClaudeAccount, previous: UsagePoll | null): Promise<UsagePoll> {
  const { claude } = useConfig()
  const now = Date.now()
  const failures = (previous && previous.outcome !== 'ok' && previous.outcome !== 'unavailable' ? previous.failures : 0) + 1
  const failed = (outcome: 'rate_limited' | 'failed'): UsagePoll => ({ outcome, failures, at: now, nextAt: now + backoffMs(failures, claude.usage.intervalMs) })
  const log = useLogger()
  try {
    await claudeAccounts.ensureFreshToken(account)
    const res = await request(claude.usage.url, {
      method: 'GET', dispatcher: claudeAccounts.dispatcherFor(account), headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS,
      headers: { 'authorization': `Bearer ${account.oauth?.accessToken ?? ''}`, 'anthropic-beta': OAUTH_BETA, 'accept': 'application/json' },
    })
    const body = await readBounded(res.body, MAX_BODY)
    if (res.statusCode === 403) {
      log.info({ accountId: account.id }, 'usage endpoint not available for this account (403); asked again in a day')
      return { outcome: 'unavailable', failures: 0, at: now, nextAt: now + UNAVAILABLE_RETRY_MS }
    }
    if (res.statusCode === 429) {
      log.debug({ accountId: account.id, failures }, 'usage endpoint rate limited; backing off')
      return failed('rate_limited')
    }
    const h = res.statusCode === 200 ? headroomFromUsage(body.toString('utf8'), now) : null
    if (!h) {
      log.warn({ accountId: account.id, status: res.statusCode }, 'usage endpoint answered without a usable body')
      return failed('failed')
    }
    await claudeAccounts.notePolledHeadroom(account, h)
    return { outcome: 'ok', failures: 0, at: now, nextAt: now + claude.usage.intervalMs }
  }
  catch (err) {
    log.warn({ accountId: account.id, reason: (err as Error).message }, 'usage poll failed')
    return failed('failed')
  }
}

/**
 * Ask the usage endpoint for a subscription account's headroom, unless its schedule says not yet
 * (`force`: right after a 429, unless another poll ran since `since` or the endpoint said 403 or
 * 429 recently). Concurrent calls for the account, here or on other instances, make one request.
 * Resolves to the account's schedule after the poll (never throws).
 */
export async function pollUsage(account: ClaudeAccount, opts: { force?: boolean, since?: number } = {}): Promise<UsagePoll | null> {
  if (!isSubscription(account)) return null
  const since = opts.since ?? Date.now()
  const notYet = (p: UsagePoll | null) => !!p && (p.outcome === 'unavailable' || p.outcome === 'rate_limited' || !opts.force ? p.nextAt > Date.now() : p.at >= since)
  try {
    return await flights.refreshOnce<UsagePoll | null>({
      accountId: account.id,
      redis: useRedis(),
      reread: () => readPoll(account.id),
      isFresh: notYet,
      refresh: async () => {
        const next = await callEndpoint(account, await readPoll(account.id))
        await writeUsagePoll(useRedis(), 'claude', account.id, next)
        account.usagePoll = next
        return next
      },
    })
  }
  catch (err) {
    useLogger().debug({ accountId: account.id, reason: (err as Error).message }, 'usage poll skipped')
    return null
  }
}

/** After a 429 of a subscription account: poll its usage now, in the background (when polling is on). */
export function pollUsageSoon(account: ClaudeAccount): void {
  if (useConfig().claude.usage.intervalMs > 0 && isSubscription(account)) void pollUsage(account, { force: true })
}

/** Refused or blocked: polling it would only be refused too. */
const needsAdmin = (a: ClaudeAccount) => a.state?.state === 'error' || a.state?.state === 'blocked'

/** One pass of the poller: every active subscription account whose next poll is due, one after another. */
export async function pollDueAccounts(now = Date.now()): Promise<number> {
  const schedule = await readUsagePolls(useRedis(), 'claude')
  const due = (await claudeAccounts.all()).filter(a => a.isActive && isSubscription(a) && !needsAdmin(a) && (schedule.get(a.id)?.nextAt ?? 0) <= now)
  for (const account of due) await pollUsage(account)
  return due.length
}
