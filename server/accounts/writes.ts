import type Redis from 'ioredis'
import type { Config } from '../config'
import { invalidation, rk } from '../store/keys'
import type { RefreshDeps } from './oauth-refresh'
import { type AccountStateRecord, writeState } from './state'
import * as store from './store'

/** What account code needs from its surroundings: the server passes its own, the CLI and data tools theirs. */
export interface AccountDeps {
  redis: Redis
  cfg: Config
  /** Send a message on the invalidation channel: every running instance drops its copy. */
  publish: (message: string) => Promise<void>
}

/** What this process does before announcing a change (the server drops its scheduler's copy; the CLI has none). */
export interface LocalEffects {
  changed?: (id: string) => void
  stateChanged?: (id: string) => void
}

/**
 * Writes to one platform's accounts, each followed by the announcement every instance needs
 * ("write, then announce"), so the server, the CLI and the data tools change accounts the same way.
 * `deps` is read at each call (the server's Redis client exists only once its plugin has run).
 */
export function accountWrites(platform: store.Platform, deps: () => AccountDeps, local: LocalEffects = {}) {
  const enc = () => deps().cfg.secrets.encryptionKey
  /** The record changed: every instance reloads it and rebuilds its connection pool. */
  async function changed(id: string): Promise<void> {
    local.changed?.(id)
    await deps().publish(invalidation.account(platform, id))
  }
  /** State, tokens or project changed: every instance reloads the account; warm connections stay. */
  async function stateChanged(id: string): Promise<void> {
    local.stateChanged?.(id)
    await deps().publish(invalidation.accountState(platform, id))
  }
  const writes = {
    changed,
    stateChanged,
    async create(input: store.AccountInput): Promise<store.Account> {
      const account = await store.createAccount(deps().redis, enc(), platform, input)
      await changed(account.id)
      return account
    },
    async update(id: string, patch: Partial<store.AccountInput>): Promise<store.Account | null> {
      const next = await store.updateAccount(deps().redis, enc(), platform, id, patch)
      if (next) await changed(id)
      return next
    },
    /** Write an account built elsewhere under its own id (the CRS import). */
    async put(account: Parameters<typeof store.saveAccount>[2]): Promise<void> {
      await store.saveAccount(deps().redis, enc(), account)
      await changed(account.id)
    },
    async remove(id: string): Promise<boolean> {
      const gone = await store.deleteAccount(deps().redis, platform, id)
      if (gone) await changed(id)
      return gone
    },
    /** Take an account out of the pool (or back in, with null) on every instance. */
    async setState(id: string, state: AccountStateRecord | null): Promise<void> {
      await writeState(deps().redis, platform, id, state)
      await stateChanged(id)
    },
    /** Keep a discovered Gemini Code Assist project on the account. */
    async setProject(id: string, projectId: string): Promise<void> {
      await deps().redis.hset(rk.account(platform, id), 'projectId', projectId)
      await stateChanged(id)
    },
    /** What a token refresh needs (server/accounts/oauth-refresh.ts): it writes and announces through these. */
    refreshDeps(): RefreshDeps {
      const d = deps()
      return { redis: d.redis, cfg: d.cfg, announce: stateChanged, setState: writes.setState }
    },
  }
  return writes
}

export type AccountWrites = ReturnType<typeof accountWrites>
