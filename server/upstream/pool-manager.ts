import type { Dispatcher } from 'undici'
import { createConnector } from './connect'
import { AccountPool, type PoolListener, type PoolOptions } from './pool'
import { redactProxyUrl } from './proxy-url'

/** What the manager needs of an account (any platform). */
export interface PooledAccount {
  id: string
  platform: string
  name: string
  isActive: boolean
  proxy: string | null
  origin: string
  /** The record's `updatedAt`: an older copy (a request picked before a change) never replaces a newer pool. */
  version: string
}

export interface PoolManagerOptions extends PoolOptions { caFile: string | null }

interface Entry { account: PooledAccount, pool: AccountPool }

type Log = (level: 'debug' | 'info' | 'warn', fields: Record<string, unknown>, msg: string) => void

/**
 * One per process: a connection pool per active account (per upstream origin and proxy), warmed
 * when the account appears or changes, checked and sampled on intervals, removed when the account
 * is disabled or deleted. Requests get the account's pool as their undici dispatcher.
 */
export class PoolManager {
  private readonly entries = new Map<string, Entry>()
  /** The version an account had when its pool was dropped (disabled or deleted). */
  private readonly dropped = new Map<string, string>()
  private readonly startedAt = Date.now()
  lastCheckAt: string | null = null
  lastSampleAt: string | null = null
  private lastSample = new Map<string, { requests: number, requestErrors: number, connectErrors: number }>()
  private closed = false

  constructor(private readonly opts: PoolManagerOptions, private readonly log: Log = () => {}) {}

  private listener(account: PooledAccount): PoolListener {
    const who = { accountId: account.id, platform: account.platform, via: redactProxyUrl(account.proxy) ?? 'direct' }
    return (event, d) => {
      if (event === 'error') this.log('warn', { ...who, origin: d.origin, reason: d.error }, 'pool connection error')
      else if (event === 'reconnected') this.log('info', { ...who, origin: d.origin, handshakeMs: round(d.handshakeMs) }, 'pool reconnected')
      else this.log('debug', { ...who, origin: d.origin, handshakeMs: round(d.handshakeMs) }, `pool ${event}`)
    }
  }

  /**
   * Make the account's pool match it: create and warm it (active), replace it when its proxy or
   * origin changed, or remove it (inactive). Resolves when the warm connections were attempted.
   */
  ensure(account: PooledAccount): Promise<void> {
    if (this.closed) return Promise.resolve()
    if (!account.isActive) return this.drop(account.id)
    this.dropped.delete(account.id)
    const hit = this.entries.get(account.id)
    if (hit && (hit.account.version > account.version || sameRoute(hit.account, account))) {
      if (hit.account.version <= account.version) hit.account = account
      return Promise.resolve()
    }
    let pool: AccountPool
    try {
      pool = new AccountPool(account.id, account.proxy, account.origin, this.opts, createConnector(account.proxy, this.opts.caFile), this.listener(account))
    }
    catch (err) {
      this.log('warn', { accountId: account.id, reason: (err as Error).message }, 'pool not created: unusable proxy')
      return this.drop(account.id)
    }
    // The new pool takes over at once; the old one finishes its requests and closes.
    this.entries.set(account.id, { account, pool })
    if (hit) void hit.pool.close().catch(() => {})
    return pool.api.warmUp()
  }

  /** Make one platform's pools match these accounts (boot, or a full reload). */
  async syncPlatform(platform: string, accounts: PooledAccount[]): Promise<void> {
    const keep = new Set(accounts.filter(a => a.isActive).map(a => a.id))
    const stale = [...this.entries.values()].filter(e => e.account.platform === platform && !keep.has(e.account.id))
    await Promise.all([...stale.map(e => this.drop(e.account.id)), ...accounts.map(a => this.ensure(a))])
  }

  async drop(id: string): Promise<void> {
    const hit = this.entries.get(id)
    if (!hit) return
    this.entries.delete(id)
    this.dropped.set(id, hit.account.version)
    await hit.pool.close().catch(() => {})
  }

  /** The account's pool when it was made for this version of the account (no allocation; the hot path). */
  current(id: string, version: string): Dispatcher | null {
    const hit = this.entries.get(id)
    return hit && hit.account.version === version ? hit.pool : null
  }

  /**
   * The dispatcher for an account's request: its pool (created on the spot when the account has
   * none yet, e.g. between a change and its reload).
   */
  dispatcherFor(account: PooledAccount): Dispatcher {
    const hit = this.entries.get(account.id)
    if (hit && (hit.account.version >= account.version || sameRoute(hit.account, account))) return hit.pool
    if (!hit && (this.dropped.get(account.id) ?? '') >= account.version) {
      // A request picked the account just before it was disabled or deleted: serve it on a
      // pool nobody keeps (no warm connections; its socket closes after POOL_IDLE_SECONDS).
      return new AccountPool(account.id, account.proxy, account.origin, { ...this.opts, warm: 0 }, createConnector(account.proxy, this.opts.caFile), this.listener(account))
    }
    void this.ensure({ ...account, isActive: true })
    const pool = this.entries.get(account.id)?.pool
    if (!pool) throw new Error(`The proxy of account ${account.name} is not usable.`)
    return pool
  }

  /** Feed a request's outcome (time to response headers) into the account's API pool figures. */
  noteRequest(accountId: string, ms: number, ok: boolean): void {
    this.entries.get(accountId)?.pool.api.noteRequest(ms, ok)
  }

  /** True when the account's API pool cannot connect (its proxy or upstream is down). */
  isDown(accountId: string): boolean {
    const p = this.entries.get(accountId)?.pool.api
    return !!p && !p.healthy
  }

  /** The light check: housekeeping on every pool (idle shrink, age rotation, warm top-up). */
  async check(now = Date.now()): Promise<void> {
    await Promise.all([...this.entries.values()].map(async ({ pool }) => {
      await Promise.all([...pool.origins.values()].map(o => o.maintain(now)))
      pool.lastCheckAt = new Date(now).toISOString()
    }))
    this.lastCheckAt = new Date(now).toISOString()
  }

  /** The performance sample: per pool counts and error rates since the last sample, logged. */
  sample(): void {
    const next = new Map<string, { requests: number, requestErrors: number, connectErrors: number }>()
    for (const { account, pool } of this.entries.values()) {
      const s = pool.api.stats()
      const prev = this.lastSample.get(account.id)
      const c = s.counters
      next.set(account.id, { requests: c.requests, requestErrors: c.requestErrors, connectErrors: c.connectErrors })
      const requests = c.requests - (prev?.requests ?? 0)
      const errors = c.requestErrors - (prev?.requestErrors ?? 0) + c.connectErrors - (prev?.connectErrors ?? 0)
      this.log('debug', {
        accountId: account.id, protocol: s.protocol, open: s.open, idle: s.idle, busy: s.busy, queued: s.queued, streams: s.streams, requests, errors,
        handshakeMs: s.handshakeMs?.avg, requestMs: s.requestMs?.avg,
      }, 'pool sample')
    }
    this.lastSample = next
    this.lastSampleAt = new Date().toISOString()
  }

  /** GET /connection-pools: the manager and every account's pools (proxy shown redacted). */
  state() {
    return {
      manager: {
        pools: this.entries.size, warmConnections: this.opts.warm, maxConnections: this.opts.max, http2: this.opts.http2 ? 'auto' as const : 'off' as const,
        idleSeconds: this.opts.idleMs / 1000, maxAgeMinutes: this.opts.maxAgeMs / 60_000, reconnectMaxSeconds: this.opts.backoffMaxMs / 1000,
        lastCheckAt: this.lastCheckAt, lastSampleAt: this.lastSampleAt, uptime: Math.round((Date.now() - this.startedAt) / 1000),
      },
      accounts: [...this.entries.values()].map(({ account, pool }) => ({
        accountId: account.id, platform: account.platform, name: account.name, proxy: redactProxyUrl(account.proxy),
        healthy: pool.api.healthy, lastCheckAt: pool.lastCheckAt,
        origins: [...pool.origins.values()].map(o => o.stats()),
      })),
    }
  }

  /** For /health: totals only (no account names, no proxy hosts). */
  summary() {
    let healthy = 0
    let open = 0
    let busy = 0
    let queued = 0
    for (const { pool } of this.entries.values()) {
      if (pool.api.healthy) healthy++
      for (const o of pool.origins.values()) {
        const s = o.stats()
        open += s.open
        busy += s.busy
        queued += s.queued
      }
    }
    return {
      status: healthy === this.entries.size ? 'healthy' as const : 'degraded' as const, total: this.entries.size, healthy, openConnections: open, busyConnections: busy,
      // Requests waiting for a connection because every one (up to POOL_MAX_CONNECTIONS) is busy.
      queuedRequests: queued,
    }
  }

  /** Requests in flight on HTTP/2 sessions, every account (`/metrics`: open/busy count sessions there, not requests). */
  http2Streams(): number {
    let n = 0
    for (const { pool } of this.entries.values()) for (const o of pool.origins.values()) n += o.h2?.stats().streams ?? 0
    return n
  }

  async close(): Promise<void> {
    this.closed = true
    const all = [...this.entries.values()]
    this.entries.clear()
    await Promise.allSettled(all.map(e => e.pool.close()))
  }
}

const sameRoute = (a: PooledAccount, b: PooledAccount) => a.proxy === b.proxy && a.origin === b.origin

const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 10) / 10)
