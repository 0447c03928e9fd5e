import type Redis from 'ioredis'
import { randomToken } from '../crypto'
import { rk } from '../store/keys'
import { defineScripts } from '../store/scripts'
import { OAuthError } from './errors'

/** The lock expires by itself if its holder dies; longer than a token call (15 s) can take. */
const LOCK_TTL_MS = 30_000
/** How long an instance waits for another one's refresh before giving up (`busy`). */
const LOCK_WAIT_MS = 20_000
const LOCK_POLL_MS = 100

export interface RefreshOnceOptions<T> {
  accountId: string
  redis: Redis
  /**
   * Refresh and persist the new token; runs while this instance holds the lock. It should read
   * the current refresh token from Redis itself: Claude rotates refresh tokens, so a copy read
   * before the lock may already be spent by another instance's refresh.
   */
  refresh: () => Promise<T>
  /** Reload the account's token from Redis: the result when another instance did the refresh. */
  reread: () => Promise<T>
  /**
   * Optional double check: once the lock is ours, reread first and return that value without
   * refreshing when this says it is still good (another instance refreshed just before).
   */
  isFresh?: (current: T) => boolean
}

export interface SingleFlightOptions {
  /** The Redis lock of an account (default `oauth_lock:{accountId}`; the usage poller has its own). */
  lockKey?: (accountId: string) => string
  lockTtlMs?: number
  waitMs?: number
  pollMs?: number
}

export interface SingleFlight {
  /**
   * One refresh per account at a time across every instance: concurrent calls in this process
   * share one promise; across processes a Redis lock (`oauth_lock:{accountId}`) decides who
   * refreshes, and the others wait for the lock to go and return `reread()`.
   */
  refreshOnce<T>(opts: RefreshOnceOptions<T>): Promise<T>
  /** Accounts with a refresh (or a wait) in flight in this instance. */
  pending(): number
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** An independent single-flight instance (its own in-process map); tests make two to act as two instances. */
export function createSingleFlight(options: SingleFlightOptions = {}): SingleFlight {
  const lockTtlMs = options.lockTtlMs ?? LOCK_TTL_MS
  const waitMs = options.waitMs ?? LOCK_WAIT_MS
  const pollMs = options.pollMs ?? LOCK_POLL_MS
  const lockKey = options.lockKey ?? rk.oauthLock
  const flights = new Map<string, Promise<unknown>>()

  async function underLock<T>(o: RefreshOnceOptions<T>, key: string, token: string): Promise<T> {
    try {
      if (o.isFresh) {
        const current = await o.reread()
        if (o.isFresh(current)) return current
      }
      return await o.refresh()
    }
    finally {
      // Compare-and-delete: if our lock expired and someone else holds it now, leave theirs alone.
      const redis = typeof o.redis.releaseLock === 'function' ? o.redis : defineScripts(o.redis)
      await redis.releaseLock(key, token).catch(() => { /* it expires by itself */ })
    }
  }

  async function run<T>(o: RefreshOnceOptions<T>): Promise<T> {
    const key = lockKey(o.accountId)
    const token = randomToken(16)
    if (await o.redis.set(key, token, 'PX', lockTtlMs, 'NX') === 'OK') return underLock(o, key, token)
    // Another instance is refreshing: wait until it is done, then use what it stored.
    const deadline = Date.now() + waitMs
    while (Date.now() < deadline) {
      await sleep(pollMs)
      if (!await o.redis.exists(key)) return o.reread()
    }
    throw new OAuthError('busy', `Another instance has been refreshing the token of account ${o.accountId} for over ${Math.round(waitMs / 1000)} s; try again shortly.`)
  }

  return {
    refreshOnce<T>(o: RefreshOnceOptions<T>): Promise<T> {
      const inFlight = flights.get(o.accountId)
      if (inFlight) return inFlight as Promise<T>
      const p = run(o).finally(() => flights.delete(o.accountId))
      flights.set(o.accountId, p)
      return p
    },
    pending: () => flights.size,
  }
}

const processWide = createSingleFlight()

/** The process-wide single-flight (what the accounts code uses). */
export function refreshOnce<T>(opts: RefreshOnceOptions<T>): Promise<T> {
  return processWide.refreshOnce(opts)
}
