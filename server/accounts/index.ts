import { useConfig } from '../config'
import { useLogger } from '../logging'
import { publish, subscribe, useRedis } from '../store/redis'
import { channels } from '../store/keys'
import * as claude from './claude'
import { AccountHealth } from './health'
import { claudePooled, usePools } from './pools'
import { ensureFreshToken, type RefreshDeps } from './claude-oauth'
import { AccountPool } from './scheduler'
import { type SessionRef, StickySessions } from './sticky'
import { type AccountStateRecord, effectiveState, isAvailable, windowFromHeaders, writeState, writeWindow } from './state'

export type { ClaudeAccount, ClaudeAccountInput, ClaudeOAuth } from './claude'

/** What the scheduler reads of an API key: its dedicated account and whether the pool may stand in. */
export interface DedicatedBinding { claudeAccountId: string | null, dedicatedFallback?: boolean }

let pool: AccountPool<claude.ClaudeAccount> | undefined
let sticky: StickySessions | undefined
const health = new AccountHealth()
let degradedCache = { at: 0, ids: new Set<string>() }

/** Accounts much worse than their peers right now (recomputed at most twice a second). */
function degradedAmong(accounts: claude.ClaudeAccount[], now = Date.now()): Set<string> {
  if (now - degradedCache.at < 500) return degradedCache.ids
  const ids = accounts.filter(a => a.isActive && isAvailable(a.state, now)).map(a => a.id)
  // A pool that cannot connect (proxy down) counts as degraded too: its account is tried last.
  degradedCache = { at: now, ids: new Set(ids.filter(id => health.degraded(id, ids) || usePools().isDown(id))) }
  return degradedCache.ids
}
const useSticky = () => (sticky ??= new StickySessions(useRedis, useConfig().stickyTtlMs))

function useClaudePool(): AccountPool<claude.ClaudeAccount> {
  if (!pool) {
    const p = new AccountPool(() => claude.listClaudeAccounts(useRedis(), useConfig().secrets.encryptionKey))
    subscribe(channels.invalidate, (msg) => {
      if (msg.startsWith('claude_account:')) {
        p.invalidate()
        void syncPool(msg.slice('claude_account:'.length))
      }
      // A state change keeps the account's warm connections: only the pool is reloaded.
      else if (msg.startsWith('claude_account_state:')) p.invalidate()
    })
    pool = p
  }
  return pool
}

async function changed(id: string): Promise<void> {
  useClaudePool().invalidate()
  void syncPool(id)
  await publish(channels.invalidate, `claude_account:${id}`)
}

/** Create, re-warm or drop the account's connection pool after it changed (here or elsewhere). */
async function syncPool(id: string): Promise<void> {
  try {
    const account = await claude.getClaudeAccount(useRedis(), enc(), id)
    await (account ? usePools().ensure(claudePooled(account)) : usePools().drop(id))
  }
  catch (err) {
    useLogger().warn({ accountId: id, reason: (err as Error).message }, 'connection pool not updated')
  }
}

const enc = () => useConfig().secrets.encryptionKey

/** Reload pools everywhere without dropping the account's warm connections (state, tokens). */
async function stateChanged(id: string): Promise<void> {
  useClaudePool().invalidate()
  await publish(channels.invalidate, `claude_account_state:${id}`)
}

const refreshDeps = (): RefreshDeps => ({
  redis: useRedis(), cfg: useConfig(), announce: stateChanged,
  setState: (id, s) => claudeAccounts.setState(id, s),
})

/** Claude accounts: admin CRUD and the scheduler's pick (cached; no Redis round trip). */
export const claudeAccounts = {
  async create(input: claude.ClaudeAccountInput) {
    const account = await claude.createClaudeAccount(useRedis(), enc(), input)
    await changed(account.id)
    return account
  },
  get: (id: string) => claude.getClaudeAccount(useRedis(), enc(), id),
  list: () => claude.listClaudeAccounts(useRedis(), enc()),
  async update(id: string, patch: Partial<claude.ClaudeAccountInput>) {
    const next = await claude.updateClaudeAccount(useRedis(), enc(), id, patch)
    if (next) await changed(id)
    return next
  },
  async remove(id: string) {
    const gone = await claude.deleteClaudeAccount(useRedis(), id)
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
    const usable = (a: claude.ClaudeAccount | undefined) => (a && a.isActive && isAvailable(a.state) && !exclude?.has(a.id) ? a : null)
    const all = await useClaudePool().all()
    if (key.claudeAccountId) {
      const dedicated = usable(all.find(a => a.id === key.claudeAccountId))
      if (dedicated || !key.dedicatedFallback) return dedicated
      // The fallback draws from the shared pool only, never another key's dedicated account.
      return useClaudePool().pick(exclude)
    }
    const degraded = degradedAmong(all)
    if (session && useConfig().stickyTtlMs) {
      const boundId = await useSticky().get(session)
      // A degraded account loses its conversations to healthier peers.
      const bound = boundId && !degraded.has(boundId) ? usable(all.find(a => a.id === boundId && a.accountType !== 'dedicated')) : null
      if (bound) {
        useClaudePool().lastUsed.set(bound.id, Date.now())
        return bound
      }
    }
    if (degraded.size) {
      const healthy = await useClaudePool().pick(new Set([...(exclude ?? []), ...degraded]))
      if (healthy) return healthy
    }
    return useClaudePool().pick(exclude)
  },
  /** Keep the 5-hour session window an answer reported (written only when it changed). */
  noteWindow(account: claude.ClaudeAccount, headers: Record<string, string | string[] | undefined>) {
    const w = windowFromHeaders(headers)
    if (!w || (account.sessionWindow?.status === w.status && account.sessionWindow.resetAt === w.resetAt)) return
    account.sessionWindow = w
    void writeWindow(useRedis(), 'claude', account.id, w).catch(() => {})
  },
  /** Report one upstream attempt of an account (ok: answered without an account-level error). */
  recordAttempt(accountId: string, ok: boolean, ttfbMs: number) {
    health.record(accountId, ok, ttfbMs)
    usePools().noteRequest(accountId, ttfbMs, ok)
  },
  /** The undici dispatcher for a request of this account: its warm connection pool. */
  dispatcherFor: (account: claude.ClaudeAccount) => usePools().dispatcherFor(claudePooled(account)),
  /** Create and warm a pool for every active account (boot). */
  async warmPools() {
    await usePools().sync((await useClaudePool().all()).map(claudePooled))
  },
  /** Bind a conversation to the account that served it (moves with failover). */
  bindSession(session: SessionRef | null, accountId: string) {
    if (session && useConfig().stickyTtlMs) useSticky().bind(session, accountId)
  },
  /** Why no account can serve right now (for the client's error message). */
  async unavailableReasons(key: DedicatedBinding): Promise<string> {
    const onlyDedicated = key.claudeAccountId && !key.dedicatedFallback
    const all = (await useClaudePool().all()).filter(a => a.isActive
      && (a.id === key.claudeAccountId || (!onlyDedicated && a.accountType !== 'dedicated')))
    if (all.length === 0) {
      return key.claudeAccountId
        ? 'the Claude account dedicated to this API key is not available: disabled or deleted'
        : 'no active Claude account: add or enable one in the admin API or UI'
    }
    return all.map((a) => {
      const s = effectiveState(a.state)
      return 'until' in s
        ? `${a.name}: ${s.state}${s.until ? ` until ${s.until}` : ''} (${s.reason.slice(0, 120)})`
        : `${a.name}: failed for this request`
    }).join('; ')
  },
  /** Take an account out of the pool (or back in, with null) on every instance. */
  async setState(id: string, state: AccountStateRecord | null) {
    await writeState(useRedis(), 'claude', id, state)
    await stateChanged(id)
  },
  /** Refresh an OAuth account's token when it is about to expire (or now, with `force`). */
  ensureFreshToken: (account: claude.ClaudeAccount, opts?: { force?: boolean, aheadMs?: number }) => ensureFreshToken(account, refreshDeps(), opts),
  /** The admin view, with this instance's health figures for the account. */
  toView: (a: claude.ClaudeAccount) => ({ ...claude.toAccountView(a), health: health.stats(a.id) }),
}
