import { useConfig } from '../config'
import { useLogger, useTokenLogger } from '../logging'
import { observeRefresh } from '../metrics'
import { publish, subscribe, useRedis } from '../store/redis'
import { channels, rk } from '../store/keys'
import * as store from './store'
import { AccountHealth } from './health'
import { pooledOf, usePools } from './pools'
import { ensureFreshToken, type RefreshDeps } from './oauth-refresh'
import { AccountPool } from './scheduler'
import { type SessionRef, StickySessions } from './sticky'
import { type AccountStateRecord, effectiveState, isAvailable, windowFromHeaders, writeState, writeWindow } from './state'

/** What the scheduler reads of an API key: its dedicated accounts and whether the pool may stand in. */
export interface DedicatedBinding { claudeAccountId?: string | null, geminiAccountId?: string | null, dedicatedFallback?: boolean }

const LABEL: Record<store.Platform, string> = { claude: 'Claude', gemini: 'Gemini' }

/**
 * One platform's accounts: admin CRUD, the scheduler's pick (dedicated → sticky → pool, from an
 * in-process copy: no Redis round trip), states, health, token refresh and connection pools.
 * Claude and Gemini each get one (`claudeAccounts`, `geminiAccounts`).
 */
export function createAccountService(platform: store.Platform) {
  const changedPrefix = `${platform}_account:`
  const statePrefix = `${platform}_account_state:`
  const bindingOf = (key: DedicatedBinding) => (platform === 'claude' ? key.claudeAccountId : key.geminiAccountId) ?? null
  let pool: AccountPool<store.Account> | undefined
  let sticky: StickySessions | undefined
  const health = new AccountHealth()
  let degradedCache = { at: 0, ids: new Set<string>() }

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
  const useSticky = () => (sticky ??= new StickySessions(useRedis, useConfig().stickyTtlMs))

  function usePool(): AccountPool<store.Account> {
    if (!pool) {
      const p = new AccountPool(() => store.listAccounts(useRedis(), useConfig().secrets.encryptionKey, platform))
      subscribe(channels.invalidate, (msg) => {
        if (msg.startsWith(changedPrefix)) {
          p.invalidate()
          void syncPool(msg.slice(changedPrefix.length))
        }
        // A state change keeps the account's warm connections: only the pool is reloaded.
        else if (msg.startsWith(statePrefix)) p.invalidate()
      })
      pool = p
    }
    return pool
  }

  async function changed(id: string): Promise<void> {
    usePool().invalidate()
    void syncPool(id)
    await publish(channels.invalidate, `${changedPrefix}${id}`)
  }

  /** Create, re-warm or drop the account's connection pool after it changed (here or elsewhere). */
  async function syncPool(id: string): Promise<void> {
    try {
      const account = await store.getAccount(useRedis(), enc(), platform, id)
      await (account ? usePools().ensure(pooledOf(account)) : usePools().drop(id))
    }
    catch (err) {
      useLogger().warn({ accountId: id, reason: (err as Error).message }, 'connection pool not updated')
    }
  }

  const enc = () => useConfig().secrets.encryptionKey

  /** Reload pools everywhere without dropping the account's warm connections (state, tokens). */
  async function stateChanged(id: string): Promise<void> {
    usePool().invalidate()
    await publish(channels.invalidate, `${statePrefix}${id}`)
  }

  const refreshDeps = (): RefreshDeps => ({
    redis: useRedis(), cfg: useConfig(), announce: stateChanged,
    setState: (id, s) => service.setState(id, s),
  })

  const service = {
    platform,
    async create(input: store.AccountInput) {
      const account = await store.createAccount(useRedis(), enc(), platform, input)
      await changed(account.id)
      return account
    },
    get: (id: string) => store.getAccount(useRedis(), enc(), platform, id),
    list: () => store.listAccounts(useRedis(), enc(), platform),
    async update(id: string, patch: Partial<store.AccountInput>) {
      const next = await store.updateAccount(useRedis(), enc(), platform, id, patch)
      if (next) await changed(id)
      return next
    },
    async remove(id: string) {
      const gone = await store.deleteAccount(useRedis(), platform, id)
      if (gone) {
        await usePools().drop(id)
        await changed(id)
        sticky?.dropAccount(id)
        health.forget(id)
      }
      return gone
    },
    /**
   * The key's dedicated account when it has one (the pool only when the key allows the fallback),
   * else the pool's pick; `exclude` holds accounts this request already tried.
   */
    async pickFor(key: DedicatedBinding, exclude?: ReadonlySet<string>, session?: SessionRef | null) {
      const usable = (a: store.Account | undefined) => (a && a.isActive && isAvailable(a.state) && !exclude?.has(a.id) ? a : null)
      const all = await usePool().all()
      const boundTo = bindingOf(key)
      if (boundTo) {
        const dedicated = usable(all.find(a => a.id === boundTo))
        if (dedicated || !key.dedicatedFallback) return dedicated
        // The fallback draws from the shared pool only, never another key's dedicated account.
        return usePool().pick(exclude)
      }
      const degraded = degradedAmong(all)
      if (session && useConfig().stickyTtlMs) {
        const boundId = await useSticky().get(session)
        // A degraded account loses its conversations to healthier peers.
        const bound = boundId && !degraded.has(boundId) ? usable(all.find(a => a.id === boundId && a.accountType !== 'dedicated')) : null
        if (bound) {
          usePool().lastUsed.set(bound.id, Date.now())
          return bound
        }
      }
      if (degraded.size) {
        const healthy = await usePool().pick(new Set([...(exclude ?? []), ...degraded]))
        if (healthy) return healthy
      }
      return usePool().pick(exclude)
    },
    /** Keep the 5-hour session window an answer reported (written only when it changed). */
    noteWindow(account: store.Account, headers: Record<string, string | string[] | undefined>) {
      const w = windowFromHeaders(headers)
      if (!w || (account.sessionWindow?.status === w.status && account.sessionWindow.resetAt === w.resetAt)) return
      account.sessionWindow = w
      void writeWindow(useRedis(), platform, account.id, w).catch(() => {})
    },
    /** Report one upstream attempt of an account (ok: answered without an account-level error). */
    recordAttempt(accountId: string, ok: boolean, ttfbMs: number) {
      health.record(accountId, ok, ttfbMs)
      usePools().noteRequest(accountId, ttfbMs, ok)
    },
    /** The undici dispatcher for a request of this account: its warm connection pool. */
    dispatcherFor: (account: store.Account) => usePools().current(account.id, account.updatedAt) ?? usePools().dispatcherFor(pooledOf(account)),
    /** Create and warm a pool for every active account (boot). */
    async warmPools() {
      await usePools().syncPlatform(platform, (await usePool().all()).map(pooledOf))
    },
    /** Bind a conversation to the account that served it (moves with failover). */
    bindSession(session: SessionRef | null, accountId: string) {
      if (session && useConfig().stickyTtlMs) useSticky().bind(session, accountId)
    },
    /**
     * Why no account can serve right now: `message` for the key holder (only what they can act
     * on: retry, or ask the admin), `detail` for the admin's log (account names, states, causes).
     */
    async unavailable(key: DedicatedBinding, now = Date.now()): Promise<{ message: string, retryAfter: number | null, detail: string }> {
      const boundTo = bindingOf(key)
      const onlyDedicated = boundTo && !key.dedicatedFallback
      const all = (await usePool().all()).filter(a => a.isActive
        && (a.id === boundTo || (!onlyDedicated && a.accountType !== 'dedicated')))
      const head = `No ${LABEL[platform]} account can serve this request`
      if (all.length === 0) {
        const message = boundTo
          ? `${head}: the ${LABEL[platform]} account dedicated to this API key is not available (disabled or deleted; ask the admin).`
          : `${head}: no active ${LABEL[platform]} account (ask the admin to add or enable one).`
        return { message, retryAfter: null, detail: message }
      }
      const ends = all.map(a => a.state && a.state.until > now ? a.state.until : 0)
      const soonest = ends.every(Boolean) ? Math.min(...ends) : 0
      const retryAfter = soonest ? Math.max(1, Math.ceil((soonest - now) / 1000)) : null
      const detail = all.map((a) => {
        const st = effectiveState(a.state, now)
        return 'until' in st
          ? `${a.name} (${a.id}): ${st.state}${st.until ? ` until ${st.until}` : ''} (${st.reason.slice(0, 120)})`
          : `${a.name} (${a.id}): failed for this request`
      }).join('; ')
      const message = retryAfter
        ? `${head} right now: every account is rate limited or out of service; try again in ${retryAfter} s.`
        : `${head} right now: every account is busy or out of service; try again shortly.`
      return { message, retryAfter, detail }
    },
    /** The accounts as the scheduler sees them (in-process copy; no Redis round trip). */
    all: () => usePool().all(),
    /** Keep a discovered Gemini Code Assist project on the account (every instance reloads it). */
    async setProject(id: string, projectId: string) {
      await useRedis().hset(rk.account(platform, id), 'projectId', projectId)
      await stateChanged(id)
    },
    /** Take an account out of the pool (or back in, with null) on every instance. */
    async setState(id: string, state: AccountStateRecord | null) {
      await writeState(useRedis(), platform, id, state)
      await stateChanged(id)
    },
    /** Refresh an OAuth account's token when it is about to expire (or now, with `force`). */
    async ensureFreshToken(account: store.Account, opts?: { force?: boolean, aheadMs?: number }) {
      const before = account.oauth?.expiresAt
      try {
        await ensureFreshToken(account, refreshDeps(), opts)
        if (account.oauth && account.oauth.expiresAt !== before) {
          observeRefresh(platform, true)
          useTokenLogger().info({ accountId: account.id, platform, expiresAt: new Date(account.oauth.expiresAt).toISOString() }, 'oauth token refreshed')
        }
      }
      catch (err) {
        observeRefresh(platform, false)
        useTokenLogger().warn({ accountId: account.id, platform, reason: (err as Error).message }, 'oauth token refresh failed')
        throw err
      }
    },
    /** The admin view, with this instance's health figures for the account. */
    toView: (a: store.Account) => ({ ...store.toAccountView(a), health: health.stats(a.id) }),
  }
  return service
}
