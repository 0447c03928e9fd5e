import { collectDefaultMetrics, Counter, type CounterConfiguration, Gauge, Histogram, type LabelValues, Registry } from 'prom-client'
import type { CacheRow } from '../usage/cache-stats'
import type { Usage } from '../usage/types'

/**
 * Prometheus metrics of this process (`GET /metrics`). Request counters are fed once per relayed
 * request from its log line; gauges about accounts and pools are read when Prometheus scrapes.
 */
export const registry = new Registry()
collectDefaultMetrics({ register: registry, prefix: 'crs_' })

const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

/**
 * A counter fed on every request: the counts wait in a plain map (a string key, one lookup) and
 * move into prom-client when Prometheus scrapes. prom-client validates and hashes the label set on
 * every `inc` (~2 µs each, eight a request); the scrape pays that once per label set instead.
 * `add(key, labels, n)`: `key` must be unique per label set; `labels` is called for a new one only.
 */
function pendingCounter<L extends string>(cfg: Omit<CounterConfiguration<L>, 'registers' | 'collect'>) {
  const pending = new Map<string, { labels: LabelValues<L>, n: number }>()
  new Counter<L>({
    ...cfg, registers: [registry],
    collect() {
      for (const p of pending.values()) this.inc(p.labels, p.n)
      pending.clear()
    },
  })
  return (key: string, labels: () => LabelValues<L>, n = 1) => {
    const hit = pending.get(key)
    if (hit) hit.n += n
    else pending.set(key, { labels: labels(), n })
  }
}

/**
 * A histogram observed on every request, with one label (or none): the counts wait in plain arrays
 * per label value and reach prom-client as a ready metric when Prometheus scrapes — the same
 * exposition as prom-client's Histogram, which validates and hashes the label set on every
 * observation (four a request). `observe(labelValue, seconds)`.
 */
export function plainHistogram(reg: Registry, name: string, help: string, labelName: string | null, buckets: readonly number[]) {
  const series = new Map<string, { counts: number[], sum: number, count: number }>()
  const metric = {
    name, help, type: 'histogram', aggregator: 'sum',
    get() {
      const values: { labels: Record<string, string | number>, value: number, metricName: string }[] = []
      for (const [label, s] of series) {
        const labels: Record<string, string> = labelName ? { [labelName]: label } : {}
        let acc = 0
        buckets.forEach((le, i) => {
          acc += s.counts[i]!
          values.push({ labels: { le, ...labels }, value: acc, metricName: `${name}_bucket` })
        })
        values.push({ labels: { le: '+Inf', ...labels }, value: s.count, metricName: `${name}_bucket` })
        values.push({ labels, value: s.sum, metricName: `${name}_sum` })
        values.push({ labels, value: s.count, metricName: `${name}_count` })
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' }
    },
    reset: () => series.clear(),
  }
  reg.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])
  return (label: string, value: number) => {
    let s = series.get(label)
    if (!s) series.set(label, (s = { counts: buckets.map(() => 0), sum: 0, count: 0 }))
    let i = 0
    while (i < buckets.length && value > buckets[i]!) i++
    if (i < buckets.length) s.counts[i]!++
    s.sum += value
    s.count++
  }
}

/** A gauge moved up and down on every request, read by prom-client at scrape time. */
function liveGauge(name: string, help: string) {
  let value = 0
  new Gauge({
    name, help, registers: [registry],
    collect() {
      this.set(value)
    },
  })
  return { inc: () => void value++, dec: () => void value-- }
}

const requests = pendingCounter({ name: 'crs_requests_total', help: 'Relayed requests', labelNames: ['platform', 'route', 'status', 'model', 'account'] })
const duration = plainHistogram(registry, 'crs_request_duration_seconds', 'Whole request time', 'platform', buckets)
const ttfb = plainHistogram(registry, 'crs_ttfb_seconds', 'Time to the response headers', 'platform', buckets)
const tokens = pendingCounter({ name: 'crs_tokens_total', help: 'Tokens by kind', labelNames: ['platform', 'model', 'kind'] })
const cost = pendingCounter({ name: 'crs_cost_usd_total', help: 'Cost in USD', labelNames: ['platform', 'model'] })
const aborted = pendingCounter({ name: 'crs_requests_aborted_total', help: 'Requests that ended before the answer did', labelNames: ['platform'] })
const refreshes = new Counter({ name: 'crs_token_refreshes_total', help: 'OAuth token refreshes', labelNames: ['platform', 'result'], registers: [registry] })
const redisOps = plainHistogram(registry, 'crs_redis_op_seconds', 'Redis calls on the request path', 'op', [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
const connectionWait = new Histogram({ name: 'crs_upstream_connection_wait_seconds', help: 'Time requests that had to wait for an upstream connection waited (a new connection opening, or the pool at its ceiling)', buckets, registers: [registry] })
export const observeConnectionWait = (ms: number) => connectionWait.observe(ms / 1000)
export const activeRelays = liveGauge('crs_active_requests', 'Relayed requests in flight (streams included)')
export const activeLeases = liveGauge('crs_concurrency_leases', 'Concurrency leases held by this process')

/** Count one finished relayed request. */
export function observeRequest(r: { platform: string, route: string, status: number, model: string, accountId: string | null, durationMs: number, ttfbMs: number | null, usage: Usage | null, costMicros: number | null, aborted: boolean }): void {
  const { platform, model } = r
  const account = r.accountId ?? ''
  requests(`${platform}\0${r.route}\0${r.status}\0${model}\0${account}`, () => ({ platform, route: r.route, status: String(r.status), model, account }))
  duration(platform, r.durationMs / 1000)
  if (r.ttfbMs !== null) ttfb(platform, r.ttfbMs / 1000)
  if (r.aborted) aborted(platform, () => ({ platform }))
  const u = r.usage
  const pm = `${platform}\0${model}`
  if (u) {
    tokens(`${pm}\0i`, () => ({ platform, model, kind: 'input' }), u.inputTokens)
    tokens(`${pm}\0o`, () => ({ platform, model, kind: 'output' }), u.outputTokens)
    tokens(`${pm}\0w`, () => ({ platform, model, kind: 'cache_create' }), u.cacheCreate5m + u.cacheCreate1h)
    tokens(`${pm}\0r`, () => ({ platform, model, kind: 'cache_read' }), u.cacheRead)
  }
  if (r.costMicros) cost(pm, () => ({ platform, model }), r.costMicros / 1e6)
}

export const observeRefresh = (platform: string, ok: boolean) => refreshes.inc({ platform, result: ok ? 'ok' : 'failed' })

/** Time a Redis call on the request path. */
export async function timeRedis<T>(op: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now()
  try {
    return await fn()
  }
  finally {
    redisOps(op, (performance.now() - t0) / 1000)
  }
}

/** Gauges read at scrape time (registered once by the metrics route). */
export function scrapeGauges(read: {
  accounts: () => Promise<{ platform: string, state: string }[]>
  pools: () => { open: number, idle: number, busy: number, total: number, healthy: number, queued: number, http2Streams: number }
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
    name: 'crs_pool_http2_streams', help: 'Requests in flight on HTTP/2 upstream sessions (crs_pool_connections counts the sessions)', registers: [registry],
    collect() {
      this.set(read.pools().http2Streams)
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
