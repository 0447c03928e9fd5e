import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody } from '../helpers/client'
import { TestServer } from '../helpers/server'

const METRICS_TOKEN = 'metrics-token-0123456789abcdef'

/** Parse Prometheus text: `name{labels} value` per sample (comments skipped); throws on a bad line. */
function parse(text: string): { name: string, labels: Record<string, string>, value: number }[] {
  return text.split('\n').filter(l => l && !l.startsWith('#')).map((l) => {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (-?[\d.e+-]+|NaN|\+Inf|-Inf)$/i.exec(l)
    if (!m) throw new Error(`not Prometheus text: ${l}`)
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(x => [x[1]!, x[2]!]))
    return { name: m[1]!, labels, value: Number(m[3]) }
  })
}

/** The sum of the samples of `name` whose labels include `labels`. */
const sum = (samples: ReturnType<typeof parse>, name: string, labels: Record<string, string> = {}) =>
  samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)

describe('GET /metrics', () => {
  const upstream = new FakeAnthropic()
  let server: TestServer

  beforeAll(async () => {
    await upstream.start()
    server = await new TestServer({ METRICS_TOKEN }).start()
  })
  afterAll(async () => {
    await server?.stop()
    await upstream.stop()
  })

  const scrape = async (token = METRICS_TOKEN) => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
  }

  it('needs METRICS_TOKEN or an admin session', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401)
    expect((await scrape('wrong-token-wrong-token')).status).toBe(401)
    const admin = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${await server.adminToken()}` } })
    expect(admin.status).toBe(200)
    const ok = await scrape()
    expect(ok.status).toBe(200)
    expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/)
  })

  it('parses, and its counters move with traffic', async () => {
    const account = await server.createConsoleAccount(upstream.url)
    const { apiKey } = await server.createKey({ name: 'metrics', rateLimitWindow: 1, rateLimitRequests: 100, concurrencyLimit: 5 })
    const before = parse((await scrape()).text)
    expect(before.some(s => s.name === 'crs_process_cpu_user_seconds_total')).toBe(true)
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: i === 0 }) })
      expect(res.status).toBe(200)
      await res.text()
    }
    await new Promise(r => setTimeout(r, 200))
    const after = parse((await scrape()).text)
    const moved = (name: string, labels: Record<string, string> = {}) => sum(after, name, labels) - sum(before, name, labels)
    expect(moved('crs_requests_total', { platform: 'claude', status: '200', account: account.id })).toBe(3)
    expect(moved('crs_request_duration_seconds_count', { platform: 'claude' })).toBe(3)
    expect(moved('crs_ttfb_seconds_count', { platform: 'claude' })).toBe(3)
    expect(moved('crs_tokens_total', { platform: 'claude', kind: 'input' })).toBeGreaterThan(0)
    expect(moved('crs_tokens_total', { platform: 'claude', kind: 'output' })).toBeGreaterThan(0)
    expect(moved('crs_cost_usd_total')).toBeGreaterThan(0)
    expect(moved('crs_redis_op_seconds_count', { op: 'admit' })).toBe(3)
    expect(moved('crs_redis_op_seconds_count', { op: 'record' })).toBe(3)
    expect(sum(after, 'crs_active_requests')).toBe(0)
    expect(sum(after, 'crs_concurrency_leases')).toBe(0)
    expect(sum(after, 'crs_accounts', { platform: 'claude', state: 'active' })).toBe(1)
    expect(sum(after, 'crs_pools', { health: 'healthy' })).toBe(1)
    expect(sum(after, 'crs_pool_connections', { state: 'open' })).toBeGreaterThan(0)
    expect(sum(after, 'crs_pool_queued_requests')).toBe(0)
  })

  it('every metric the provisioned Grafana dashboard and compose monitoring profile use exists', async () => {
    const text = (await scrape()).text
    // Declared metrics (a labelled counter has no sample until it moves), histograms with their series.
    const declared = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)]
      .flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name!]))
    const names = new Set(declared)
    const dashboard = readFileSync('deploy/monitoring/grafana/dashboards/claude-relay.json', 'utf8')
    const used = [...new Set(dashboard.match(/crs_[a-z_]+/g) ?? [])]
    expect(used.length).toBeGreaterThan(10)
    for (const m of used) expect(names.has(m), `${m} is not exported by /metrics`).toBe(true)
    const compose = readFileSync('docker-compose.yml', 'utf8')
    expect(compose.match(/profiles: \[monitoring\]/g)).toHaveLength(2)
    expect(readFileSync('deploy/monitoring/prometheus.yml', 'utf8')).toMatch(/metrics_path: \/metrics/)
  })
})

describe('a saturated connection pool is visible (issue 13: no hidden queue)', () => {
  const upstream = new FakeAnthropic()
  let server: TestServer
  beforeAll(async () => {
    await upstream.start()
    server = await new TestServer({ METRICS_TOKEN, POOL_MAX_CONNECTIONS: '1', POOL_WARM_CONNECTIONS: '1', LOG_LEVEL: 'info' }).start()
    await server.createConsoleAccount(upstream.url)
  })
  afterAll(async () => {
    await server?.stop()
    await upstream.stop()
  })

  it('a request waiting for the only connection shows in /metrics and /health', async () => {
    const { apiKey } = await server.createKey({ name: 'queued' })
    upstream.behaviour.delayMs = 300
    const send = () => fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }) }).then(r => r.text())
    const both = Promise.all([send(), send()])
    const queued = async () => sum(parse(await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()), 'crs_pool_queued_requests')
    await expect.poll(queued).toBe(1)
    expect(((await (await fetch(`${server.url}/health`)).json()) as { components: { connectionPools: { queuedRequests: number } } }).components.connectionPools.queuedRequests).toBe(1)
    await both
    await expect.poll(queued).toBe(0)
    // The wait shows: one request waited (about the first stream's length), in /metrics and in its log line.
    const m = parse(await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text())
    expect(sum(m, 'crs_upstream_connection_wait_seconds_count')).toBe(1)
    expect(sum(m, 'crs_upstream_connection_wait_seconds_sum')).toBeGreaterThan(0.5)
    const waits = server.output.split('\n').filter(l => l.includes('"msg":"request"')).map(l => (JSON.parse(l) as { connWaitMs: number }).connWaitMs)
    expect(waits).toHaveLength(2)
    expect(Math.min(...waits)).toBeLessThan(100)
    expect(Math.max(...waits)).toBeGreaterThan(500)
  })
})
