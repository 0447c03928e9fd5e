import { useConfig } from '../config'
import { useRedis } from '../store/redis'
import { AccountHealth } from './health'
import { usePools } from './pools'
import { AccountRoster, type PickOptions } from './scheduler'
import { headroomOf } from './headroom'
import { modelFamily, nearLimit, pace } from './pacing'
import { type SessionRef, StickySessions } from './sticky'
import { isAvailable } from './state'
import { type Exclusion, type Unavailable, whyUnavailable } from './unavailable'
import * as store from './store'

export type { Exclusion, Unavailable } from './unavailable'

/** What the scheduler reads of an API key: its dedicated accounts and whether the pool may stand in. */
export interface DedicatedBinding { claudeAccountId?: string | null, geminiAccountId?: string | null, dedicatedFallback?: boolean }

/**
 * Choosing one platform's account for a request: dedicated → sticky → pool, from an in-process
 * copy of the accounts (no Redis round trip), passing over accounts much worse than their peers.
 */
export function createScheduling(platform: store.Platform) {
  const bindingOf = (key: DedicatedBinding) => (platform === 'claude' ? key.claudeAccountId : key.geminiAccountId) ?? null
  const roster = new AccountRoster(() => store.listAccounts(useRedis(), useConfig().secrets.encryptionKey, platform))
  const health = new AccountHealth()
  let sticky: StickySessions | undefined
  let degradedCache = { at: 0, ids: new Set<string>() }
  const useSticky = () => (sticky ??= new StickySessions(useRedis, useConfig().stickyTtlMs))

  /**
   * Accounts much worse than their peers right now (health recomputed at most twice a second),
   * plus those whose connection pool cannot connect (proxy or upstream down; checked live).
   */
  function degradedAmong(accounts: store.Account[], now = Date.now()): Set<string> {
    if (now - degradedCache.at >= 500) {
      const ids = accounts.filter(a => a.isActive && isAvailable(a.state, now)).map(a => a.id)
      degradedCache = { at: now, ids: new Set(ids.filter(id => health.degraded(id, ids))) }
    }
    const pools = usePools()
    if (!accounts.some(a => pools.isDown(a.id))) return degradedCache.ids
    return new Set([...degradedCache.ids, ...accounts.filter(a => pools.isDown(a.id)).map(a => a.id)])
  }

  /** Window-aware picking for a request of this model (Claude subscriptions report windows; others have none). */
  function pacing(model: string): PickOptions<store.Account> {
    const { mode, headroomLimit } = useConfig().scheduling
    if (mode !== 'headroom' || platform !== 'claude') return {}
    const family = modelFamily(model)
    const now = Date.now()
    return {
      pace: a => pace(headroomOf(a), family, now),
      nearLimit: a => nearLimit(headroomOf(a), family, headroomLimit, now),
    }
  }

  return {
    /** Drop the in-process copy: the next pick reloads it. */
    invalidate: () => roster.invalidate(),
    /** Forget what this process knew of a deleted account. */
    forget(id: string) {
      sticky?.dropAccount(id)
      health.forget(id)
    },
    /** The accounts as the scheduler sees them (in-process copy; no Redis round trip). */
    all: () => roster.all(),
    /**
     * The key's dedicated account when it has one (the pool only when the key allows the fallback),
     * else the pool's pick; `exclude` holds accounts this request already tried.
     */
    async pickFor(key: DedicatedBinding, exclude?: ReadonlySet<string>, session?: SessionRef | null, model = '') {
      const usable = (a: store.Account | undefined) => (a && a.isActive && isAvailable(a.state) && !exclude?.has(a.id) ? a : null)
      const paced = pacing(model)
      const all = await roster.all()
      const boundTo = bindingOf(key)
      if (boundTo) {
        const dedicated = usable(all.find(a => a.id === boundTo))
        if (dedicated || !key.dedicatedFallback) return dedicated
        // The fallback draws from the shared pool only, never another key's dedicated account.
        return roster.pick(exclude, undefined, paced)
      }
      const degraded = degradedAmong(all)
      if (session && useConfig().stickyTtlMs) {
        const boundId = await useSticky().get(session)
        // A degraded account loses its conversations to healthier peers.
        const bound = boundId && !degraded.has(boundId) ? usable(all.find(a => a.id === boundId && a.accountType !== 'dedicated')) : null
        // A conversation stays on its account unless that account is near a subscription limit.
        if (bound && !paced.nearLimit?.(bound)) {
          roster.lastUsed.set(bound.id, Date.now())
          return bound
        }
      }
      if (degraded.size) {
        const healthy = await roster.pick(new Set([...(exclude ?? []), ...degraded]), undefined, paced)
        if (healthy) return healthy
      }
      return roster.pick(exclude, undefined, paced)
    },
    /** The account a conversation is bound to (null: none, or sticky sessions are off). */
    boundAccount: async (session: SessionRef): Promise<string | null> => (useConfig().stickyTtlMs ? useSticky().get(session) : null),
    /** Bind a conversation to the account that served it (moves with failover). */
    bindSession(session: SessionRef | null, accountId: string) {
      if (session && useConfig().stickyTtlMs) useSticky().bind(session, accountId)
    },
    /** Report one upstream attempt of an account (ok: answered without an account-level error). */
    recordAttempt(accountId: string, ok: boolean, ttfbMs: number) {
      health.record(accountId, ok, ttfbMs)
      usePools().noteRequest(accountId, ttfbMs, ok)
    },
    /** This instance's health figures for an account (admin view). */
    healthOf: (id: string) => health.stats(id),
    /** Why no account can serve this request right now (see `whyUnavailable`). */
    unavailable: async (key: DedicatedBinding, exclusion?: Exclusion | null, now = Date.now()): Promise<Unavailable> =>
      whyUnavailable(platform, await roster.all(), { boundTo: bindingOf(key), fallback: !!key.dedicatedFallback }, exclusion ?? null, now),
  }
}
