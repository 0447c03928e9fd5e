import type Redis from 'ioredis'
import type { Config } from '../config'
import { OAuthError, type OAuthTokens, refreshAccessToken, refreshOnce } from '../oauth'
import type { AccountStateRecord } from './state'
import { type Account, type AccountOAuth, getAccount, saveOAuthTokens } from './store'

/** A token this close to expiry is refreshed before a request uses it. */
const REFRESH_BEFORE_MS = 10_000

/** How long an account waits after its `failures`-th failed refresh in a row: 30 s doubling, capped at 30 min. */
const refreshBackoffMs = (failures: number) => Math.min(30_000 * 2 ** Math.max(0, failures - 1), 30 * 60_000)

/** The OAuth fields of a new account from a code exchange or an import. */
export function oauthFromTokens(t: Pick<OAuthTokens, 'accessToken' | 'refreshToken' | 'expiresAt' | 'scopes' | 'account' | 'organization'>): AccountOAuth {
  return {
    accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: t.expiresAt, scopes: t.scopes,
    email: t.account?.email ?? null, organization: t.organization?.name ?? null,
  }
}

export interface RefreshDeps {
  redis: Redis
  cfg: Config
  /** Take the account out of the pool when its refresh fails (null: put it back). */
  setState: (id: string, s: AccountStateRecord | null) => Promise<void>
  /** Tell every instance the account's tokens changed (reload pools). */
  announce: (id: string) => Promise<void>
}

/**
 * Make sure an OAuth account's access token outlives `aheadMs` (or refresh unconditionally with
 * `force`, after a 401): one refresh per account across all instances (single-flight + Redis lock),
 * through the account's proxy, reading the refresh token from Redis (Claude rotates them). The
 * account object is updated in place. A failed refresh marks the account `error` and rethrows.
 */
export async function ensureFreshToken(account: Account, deps: RefreshDeps, opts: { force?: boolean, aheadMs?: number } = {}): Promise<void> {
  const o = account.oauth
  if (account.type !== 'oauth' || !o) return
  const ahead = opts.aheadMs ?? REFRESH_BEFORE_MS
  if (!opts.force && o.expiresAt - Date.now() > ahead) return
  const { redis, cfg } = deps
  const enc = cfg.secrets.encryptionKey
  const stale = o.accessToken
  const reread = async (): Promise<AccountOAuth> => (await getAccount(redis, enc, account.platform, account.id))?.oauth ?? o
  try {
    const fresh = await refreshOnce<AccountOAuth>({
      accountId: account.id,
      redis,
      refresh: async () => {
        const current = await reread()
        const t = await refreshAccessToken(cfg, { provider: account.platform === 'claude' ? 'claude' : 'google', refreshToken: current.refreshToken, proxy: account.proxy })
        const next = { ...current, accessToken: t.accessToken, refreshToken: t.refreshToken, expiresAt: t.expiresAt, scopes: t.scopes.length ? t.scopes : current.scopes }
        await saveOAuthTokens(redis, enc, account.platform, account.id, next)
        return next
      },
      reread,
      // Another instance may have refreshed just before we got the lock.
      isFresh: t => (opts.force ? t.accessToken !== stale : t.expiresAt - Date.now() > ahead),
    })
    Object.assign(o, fresh)
    if (account.state?.reason.startsWith('token refresh failed')) await deps.setState(account.id, null)
    await deps.announce(account.id)
  }
  catch (err) {
    const e = err instanceof OAuthError ? err : null
    const now = Date.now()
    const failures = (account.state?.reason.startsWith('token refresh failed') ? account.state.failures ?? 1 : 0) + 1
    // A revoked refresh token needs a new authorization; anything else is retried with backoff.
    await deps.setState(account.id, {
      state: 'error', reason: `token refresh failed: ${(err as Error).message}`, since: now, failures,
      until: e?.kind === 'invalid_grant' ? 0 : now + refreshBackoffMs(failures),
    })
    throw err
  }
}
