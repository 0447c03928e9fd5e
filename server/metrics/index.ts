import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { CacheRow } from '../usage/cache-stats'
import type { Usage } from '../usage/types'

/**
 * Prometheus metrics of this process (`GET /metrics`). Request counters are fed once per relayed
 * request from its log line; gauges about accounts and pools are read when Prometheus scrapes.
 */
export const registry = new Registry()
collectDefaultMetrics({ register: registry, prefix: 'crs_' })

const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

const requests = new Counter({ name: 'crs_requests_total', help: 'Relayed requests', labelNames: ['platform', 'route', 'status', 'model', 'account'], registers: [registry] })
const duration = new Histogram({ name: 'crs_request_duration_seconds', help: 'Whole request time', labelNames: ['platform'], buckets, registers: [registry] })
const ttfb = new Histogram({ name: 'crs_ttfb_seconds', help: 'Time to the response headers', labelNames: ['platform'], buckets, registers: [registry] })
const tokens = new Counter({ name: 'crs_tokens_total', help: 'Tokens by kind', labelNames: ['platform', 'model', 'kind'], registers: [registry] })
const cost = new Counter({ name: 'crs_cost_usd_total', help: 'Cost in USD', labelNames: ['platform', 'model'], registers: [registry] })
const aborted = new Counter({ name: 'crs_requests_aborted_total', help: 'Requests that ended before the answer did', labelNames: ['platform'], registers: [registry] })
const refreshes = new Counter({ name: 'crs_token_refreshes_total', help: 'OAuth token refreshes', labelNames: ['platform', 'result'], registers: [registry] })
const redisOps = new Histogram({ name: 'crs_redis_op_seconds', help: 'Redis calls on the request path', labelNames: ['op'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] })
const connectionWait = new Histogram({ name: 'crs_upstream_connection_wait_seconds', help: 'Time requests that had to wait for an upstream connection waited (a new connection opening, or the pool at its ceiling)', buckets, registers: [registry] })
export const observeConnectionWait = (ms: number) => connectionWait.observe(ms / 1000)
export const activeRelays = new Gauge({ name: 'crs_active_requests', help: 'Relayed requests in flight (streams included)', registers: [registry] })
export const activeLeases = new Gauge({ name: 'crs_concurrency_leases', help: 'Concurrency leases held by this process', registers: [registry] })

/** Count one finished relayed request. */
export function observeRequest(r: { platform: string, route: string, status: number, model: string, accountId: string | null, durationMs: number, ttfbMs: number | null, usage: Usage | null, costMicros: number | null, aborted: boolean }): void {
  requests.inc({ platform: r.platform, route: r.route, status: String(r.status), model: r.model, account: r.accountId ?? '' })
  duration.observe({ platform: r.platform }, r.durationMs / 1000)
  if (r.ttfbMs !== null) ttfb.observe({ platform: r.platform }, r.ttfbMs / 1000)
  if (r.aborted) aborted.inc({ platform: r.platform })
  const u = r.usage
  if (u) {
    const labels = { platform: r.platform, model: r.model }
    tokens.inc({ ...labels, kind: 'input' }, u.inputTokens)
    tokens.inc({ ...labels, kind: 'output' }, u.outputTokens)
    tokens.inc({ ...labels, kind: 'cache_create' }, u.cacheCreate5m + u.cacheCreate1h)
    tokens.inc({ ...labels, kind: 'cache_read' }, u.cacheRead)
  }
  if (r.costMicros) cost.inc({ platform: r.platform, model: r.model }, r.costMicros / 1e6)
}

export const observeRefresh = (platform: string, ok: boolean) => refreshes.inc({ platform, result: ok ? 'ok' : 'failed' })

/** Time a Redis call on the request path. */
export async function timeRedis<T>(op: string, fn: () => Promise<T>): Promise<T> {
  const end = redisOps.startTimer({ op })
  try {
    return await fn()
  }
  finally {
    end()
  }
}

/** Gauges read at scrape time (registered once by the metrics route). */
export function scrapeGauges(read: {
  accounts: () => Promise<{ platform: string, state: string }[]>
  pools: () => { open: number, idle: number, busy: number, total: number, healthy: number, queued: number }
  usageBacklog: () => { queued: number, spilled: number }
  lostRequests: () => Promise<number>
  /** The all-time prompt-cache ledger per model label (Redis: every instance's requests). */
  cacheLedger: () => Promise<CacheRow[]>
}) {
  // The three cache gauges share one read per scrape (they are collected one after another).
  let ledger: Promise<CacheRow[]> | undefined
  const readLedger = () => (ledger ??= read.cacheLedger().finally(() => {
    setTimeout(() => (ledger = undefined), 1000).unref()
  }))
  new Gauge({
    name: 'crs_cache_tokens', help: 'Prompt tokens by cache use, all time (Redis: every instance); uncached_input is the rest of the prompt', labelNames: ['model', 'kind'], registers: [registry],
    async collect() {
      // Redis away: the last values stay (the scrape still answers).
      const rows = await readLedger().catch(() => null)
      if (!rows) return
      this.reset()
      for (const r of rows) {
        this.set({ model: r.id, kind: 'read' }, r.reads)
        this.set({ model: r.id, kind: 'write_5m' }, r.writes5m)
        this.set({ model: r.id, kind: 'write_1h' }, r.writes1h)
        this.set({ model: r.id, kind: 'uncached_input' }, r.uncachedInput)
      }
    },
  })
  new Gauge({
    name: 'crs_cache_hit_ratio', help: 'Cache reads / (reads + writes + uncached input), all time', labelNames: ['model'], registers: [registry],
    async collect() {
      const rows = await readLedger().catch(() => null)
      if (!rows) return
      this.reset()
      for (const r of rows) if (r.hitRate !== null) this.set({ model: r.id }, r.hitRate)
    },
  })
  new Gauge({
    name: 'crs_cache_saved_usd', help: 'What prompt caching saved versus the same tokens uncached, at current prices, all time (negative: writes cost more than reads saved)', labelNames: ['model'], registers: [registry],
    async collect() {
      const rows = await readLedger().catch(() => null)
      if (!rows) return
      this.reset()
      for (const r of rows) this.set({ model: r.id }, r.savedUsd)
    },
  })
  new Gauge({
    name: 'crs_requests_lost', help: 'Requests admitted by an instance that died before recording them (the lost store, all instances)', registers: [registry],
    async collect() {
      // Redis away: the last value stays (the scrape still answers).
      await read.lostRequests().then(n => this.set(n), () => {})
    },
  })
  new Gauge({
    name: 'crs_usage_backlog', help: 'Usage records waiting for Redis (in memory, in the spill file)', labelNames: ['where'], registers: [registry],
    collect() {
      const b = read.usageBacklog()
      this.set({ where: 'memory' }, b.queued)
      this.set({ where: 'file' }, b.spilled)
    },
  })
  new Gauge({
    name: 'crs_accounts', help: 'Accounts by platform and state', labelNames: ['platform', 'state'], registers: [registry],
    async collect() {
      this.reset()
      for (const a of await read.accounts()) this.inc({ platform: a.platform, state: a.state })
    },
  })
  new Gauge({
    name: 'crs_pool_connections', help: 'Upstream pool connections by state', labelNames: ['state'], registers: [registry],
    collect() {
      const p = read.pools()
      this.set({ state: 'open' }, p.open)
      this.set({ state: 'idle' }, p.idle)
      this.set({ state: 'busy' }, p.busy)
    },
  })
  new Gauge({
    name: 'crs_pool_queued_requests', help: 'Requests waiting for an upstream connection (every one up to POOL_MAX_CONNECTIONS busy)', registers: [registry],
    collect() {
      this.set(read.pools().queued)
    },
  })
  new Gauge({
    name: 'crs_pools', help: 'Connection pools (healthy or not)', labelNames: ['health'], registers: [registry],
    collect() {
      const p = read.pools()
      this.set({ health: 'healthy' }, p.healthy)
      this.set({ health: 'unhealthy' }, p.total - p.healthy)
    },
  })
}
