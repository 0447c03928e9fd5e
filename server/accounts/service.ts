import { useConfig } from '../config'
import { useLogger, useTokenLogger } from '../logging'
import { observeRefresh } from '../metrics'
import { channels, parseInvalidation } from '../store/keys'
import { publish, subscribe, useRedis } from '../store/redis'
import { pooledOf, usePools } from './pools'
import { closeHeadroom, type Headroom, mergeHeadroom, writeHeadroom } from './headroom'
import { ensureFreshToken } from './oauth-refresh'
import { createScheduling } from './scheduling'
import { type SessionWindow, writeWindow } from './state'
import * as store from './store'
import { type AccountDeps, accountWrites } from './writes'

export type { DedicatedBinding } from './scheduling'

/** The server's surroundings for account code (the CLI builds its own from its Redis client). */
const serverDeps = (): AccountDeps => ({ redis: useRedis(), cfg: useConfig(), publish: m => publish(channels.invalidate, m) })

/**
 * One platform's accounts in the server: writes that every instance hears of (`writes.ts`), the
 * scheduler's pick (`scheduling.ts`), token freshness, and the accounts' connection pools.
 * Claude and Gemini each get one (`claudeAccounts`, `geminiAccounts`).
 */
/** A drift of an account's utilisation is stored at most this often (a change of substance at once). */
const HEADROOM_WRITE_MS = 60_000

export function createAccountService(platform: store.Platform) {
  let subscribed = false
  /** The headroom this instance last stored per account, and when. */
  const headroomWritten = new Map<string, { h: Headroom, at: number }>()
  const scheduling = createScheduling(platform)
  /** The scheduler's copy, reloaded on changes here and (through pub/sub) on other instances. */
  function roster() {
    if (!subscribed) {
      subscribed = true
      subscribe(channels.invalidate, (msg) => {
        const m = parseInvalidation(msg)
        if (!m || (m.kind !== 'account' && m.kind !== 'accountState') || m.platform !== platform) return
        scheduling.invalidate()
        // A state change keeps the account's warm connections: only a record change rebuilds them.
        if (m.kind === 'account') void syncPool(m.id)
      })
    }
    return scheduling
  }
  const writes = accountWrites(platform, serverDeps, {
    changed: (id) => {
      roster().invalidate()
      void syncPool(id)
    },
    stateChanged: () => roster().invalidate(),
  })

  /** Create, re-warm or drop the account's connection pool after it changed (here or elsewhere). */
  async function syncPool(id: string): Promise<void> {
    try {
      const account = await store.getAccount(useRedis(), useConfig().secrets.encryptionKey, platform, id)
      await (account ? usePools().ensure(pooledOf(account)) : usePools().drop(id))
    }
    catch (err) {
      useLogger().warn({ accountId: id, reason: (err as Error).message }, 'connection pool not updated')
    }
  }

  return {
    platform,
    create: writes.create,
    update: writes.update,
    async remove(id: string) {
      const gone = await writes.remove(id)
      if (gone) {
        await usePools().drop(id)
        scheduling.forget(id)
      }
      return gone
    },
    get: (id: string) => store.getAccount(useRedis(), useConfig().secrets.encryptionKey, platform, id),
    list: () => store.listAccounts(useRedis(), useConfig().secrets.encryptionKey, platform),
    setState: writes.setState,
    setProject: writes.setProject,
    pickFor: (...a: Parameters<typeof scheduling.pickFor>) => roster().pickFor(...a),
    unavailable: (...a: Parameters<typeof scheduling.unavailable>) => roster().unavailable(...a),
    all: () => roster().all(),
    bindSession: scheduling.bindSession,
    boundAccount: scheduling.boundAccount,
    recordAttempt: scheduling.recordAttempt,
    /** Keep the 5-hour session window an answer reported (written only when it changed). */
    noteWindow(account: store.Account, w: SessionWindow | null) {
      if (!w || (account.sessionWindow?.status === w.status && account.sessionWindow.resetAt === w.resetAt)) return
      account.sessionWindow = w
      void writeWindow(useRedis(), platform, account.id, w).catch(() => {})
    },
    /**
     * Keep the headroom an answer or a poll reported, merged over what the account had (a reading
     * that omits a part keeps it). Written only when it changed, never awaited: this runs on every answer.
     */
    noteHeadroom(account: store.Account, h: Headroom | null) {
      if (!h) return
      const next = mergeHeadroom(account.headroom, h)
      account.headroom = next
      // Every answer moves the utilisation a little: store a change of substance at once, a drift
      // at most once a minute (the scheduler reads the exact in-process figures).
      const last = headroomWritten.get(account.id)
      const now = Date.now()
      if (last && (closeHeadroom(last.h, next) && now - last.at < HEADROOM_WRITE_MS)) return
      headroomWritten.set(account.id, { h: next, at: now })
      void writeHeadroom(useRedis(), platform, account.id, next).catch(() => {})
    },
    /** Keep a polled headroom (server/protocols/anthropic/usage-poll.ts) and tell every instance to reload it. */
    async notePolledHeadroom(account: store.Account, h: Headroom) {
      account.headroom = mergeHeadroom(account.headroom, h)
      await writeHeadroom(useRedis(), platform, account.id, account.headroom)
      await writes.stateChanged(account.id)
    },
    /** The undici dispatcher for a request of this account: its warm connection pool. */
    dispatcherFor: (account: store.Account) => usePools().current(account.id, account.updatedAt) ?? usePools().dispatcherFor(pooledOf(account)),
    /** Create and warm a pool for every active account (boot). */
    async warmPools() {
      await usePools().syncPlatform(platform, (await roster().all()).map(pooledOf))
    },
    /** Refresh an OAuth account's token when it is about to expire (or now, with `force`). */
    async ensureFreshToken(account: store.Account, opts?: { force?: boolean, aheadMs?: number }) {
      const before = account.oauth?.expiresAt
      try {
        await ensureFreshToken(account, writes.refreshDeps(), opts)
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
    toView: (a: store.Account) => ({ ...store.toAccountView(a), health: scheduling.healthOf(a.id) }),
  }
}
