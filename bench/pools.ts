// `npm run bench:pools`: what pre-warmed connection pools buy when opening a connection to the
// upstream is slow. A SOCKS5 proxy that holds every new tunnel BENCH_POOLS_DELAY_MS (300) sits
// between the relay and the fake upstream. Two relays run side by side on one private Redis:
// POOL_WARM_CONNECTIONS=BENCH_POOLS_WARM (3) and POOL_WARM_CONNECTIONS=0. For BENCH_POOLS_ACCOUNTS
// (5) fresh accounts each (created through the admin API, interleaved), through the proxy and
// direct (the baseline): the first request once the pool had time to warm (open ≥ warm count, or
// a fixed 1 s without pre-warming), then BENCH_POOLS_STEADY (200) sequential requests.
// Prints a table and writes bench/results/pools.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { Client } from 'undici'
import { adminApi, ensureBuild, killAllSync, startRedis, startRelay, startSocks5, startUpstream, stopAll } from './procs'
import { percentile } from './stats'

const env = process.env
const ACCOUNTS = Number(env.BENCH_POOLS_ACCOUNTS ?? 5)
const STEADY = Number(env.BENCH_POOLS_STEADY ?? 200)
const DELAY_MS = Number(env.BENCH_POOLS_DELAY_MS ?? 300)
const WARM = Number(env.BENCH_POOLS_WARM ?? 3)
const COLD_WAIT_MS = 1000
const PREWARM_REQUESTS = 300

if (!(ACCOUNTS >= 1) || !(STEADY >= 1) || !(DELAY_MS >= 0) || !(WARM >= 1)) {
  console.error('bench:pools: BENCH_POOLS_ACCOUNTS ≥ 1, BENCH_POOLS_STEADY ≥ 1, BENCH_POOLS_DELAY_MS ≥ 0, BENCH_POOLS_WARM ≥ 1')
  process.exit(2)
}
process.on('exit', killAllSync)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => process.exit(130))

type Route = 'direct' | 'socks5'
type Call = Awaited<ReturnType<typeof adminApi>>
interface Relay { warm: number, url: string, client: Client, call: Call }
interface PoolsState { accounts: { accountId: string, origins: { open: number, counters: { connects: number }, handshakeMs: { avg: number } | null }[] }[] }
/** One fresh account: how long its pool took to warm, its first request, then the steady ones (ms). */
interface Sample { readyMs: number | null, firstMs: number, steady: number[], connects: number, handshakeMs: number | null }

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const body = JSON.stringify({ model: 'claude-sonnet-4-5-20250929', max_tokens: 1024, messages: [{ role: 'user', content: 'Say hello.' }] })

/** One relayed non-stream request, read to the end; its wall time in ms. */
async function timed(relay: Relay, apiKey: string): Promise<number> {
  const t0 = performance.now()
  const res = await relay.client.request({
    method: 'POST', path: '/api/v1/messages', body,
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': apiKey },
  })
  const text = await res.body.text()
  const ms = performance.now() - t0
  if (res.statusCode !== 200 || !text.includes('"stop_reason":"end_turn"')) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`)
  return ms
}

const poolOf = async (relay: Relay, id: string) => (await relay.call<PoolsState>('GET', '/connection-pools')).accounts.find(a => a.accountId === id)?.origins[0]

/** A dedicated account (direct or through the proxy) and a key bound to it: the key's requests use only it. */
async function freshAccount(relay: Relay, name: string, apiUrl: string, proxy: string | null): Promise<{ id: string, apiKey: string }> {
  const { id } = await relay.call<{ id: string }>('POST', '/api/admin/claude-accounts', {
    type: 'console', name, apiUrl, apiKey: `sk-ant-api03-bench-${name}`, proxy, accountType: 'dedicated',
  })
  const { apiKey } = await relay.call<{ apiKey: string }>('POST', '/api/admin/api-keys', { name, claudeAccountId: id })
  return { id, apiKey }
}

/** Add an account, let its pool warm, then time its first request and STEADY more. */
async function measure(relay: Relay, name: string, apiUrl: string, proxy: string | null): Promise<Sample> {
  const t0 = performance.now()
  const { id, apiKey } = await freshAccount(relay, name, apiUrl, proxy)
  let readyMs: number | null = null
  if (relay.warm > 0) {
    for (const until = Date.now() + 15_000; readyMs === null; await sleep(5)) {
      if (((await poolOf(relay, id))?.open ?? 0) >= relay.warm) readyMs = performance.now() - t0
      else if (Date.now() > until) throw new Error(`the pool of ${name} did not open ${relay.warm} connections within 15 s`)
    }
  }
  else await sleep(COLD_WAIT_MS)
  const firstMs = await timed(relay, apiKey)
  const steady: number[] = []
  for (let i = 0; i < STEADY; i++) steady.push(await timed(relay, apiKey))
  const pool = await poolOf(relay, id)
  return { readyMs, firstMs, steady, connects: pool?.counters.connects ?? 0, handshakeMs: pool?.handshakeMs?.avg ?? null }
}

interface Row { route: Route, warm: number, samples: Sample[], first: { p50: number, min: number, max: number }, steady: { p50: number, p95: number }, readyMsP50: number | null }

function summarise(route: Route, warm: number, samples: Sample[]): Row {
  const firsts = samples.map(s => s.firstMs).sort((a, b) => a - b)
  const steady = samples.flatMap(s => s.steady).sort((a, b) => a - b)
  const ready = samples.map(s => s.readyMs).filter((x): x is number => x !== null).sort((a, b) => a - b)
  return {
    route, warm, samples,
    first: { p50: percentile(firsts, 50), min: firsts[0]!, max: firsts.at(-1)! },
    steady: { p50: percentile(steady, 50), p95: percentile(steady, 95) },
    readyMsP50: ready.length ? percentile(ready, 50) : null,
  }
}

const f = (n: number | null, d = 2) => (n === null || !Number.isFinite(n) ? '–' : n.toFixed(d))
const cell = (s: string, w: number, left = false) => (left ? s.padEnd(w) : s.padStart(w))

function table(rows: Row[]): string {
  const base = (r: Row) => rows.find(b => b.route === 'direct' && b.warm === r.warm)!
  const head = [['route', 17, true], ['warm', 4], ['ready', 8], ['first p50', 10], ['first min–max', 16], ['×direct', 8], ['steady p50', 11], ['p95', 7], ['×direct', 8], ['connects', 9], ['handshake', 10]] as const
  const line = (cells: string[]) => cells.map((c, i) => cell(c, head[i]![1], head[i]!.length > 2)).join('  ')
  const out = [line(head.map(h => h[0])), `(ms; ready = account created → pool open ≥ ${WARM}; ×direct = against the direct row with the same warm setting, this run; connects/handshake = per account, from /connection-pools)`]
  for (const r of rows) {
    const b = base(r)
    const per = r.samples.length
    out.push(line([
      r.route === 'direct' ? 'direct' : `SOCKS5 +${DELAY_MS} ms`, String(r.warm), f(r.readyMsP50, 1), f(r.first.p50), `${f(r.first.min)}–${f(r.first.max)}`, `${f(r.first.p50 / b.first.p50)}x`,
      f(r.steady.p50), f(r.steady.p95), `${f(r.steady.p50 / b.steady.p50)}x`,
      f(r.samples.reduce((a, s) => a + s.connects, 0) / per, 1), f(r.samples.reduce((a, s) => a + (s.handshakeMs ?? 0), 0) / per, 1),
    ]))
  }
  return out.join('\n')
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error('bench:pools: still running after 10 minutes, giving up')
    process.exit(2)
  }, 600_000)
  watchdog.unref()
  await ensureBuild()
  const loadBefore = loadavg()
  const redis = await startRedis()
  const upstream = await startUpstream()
  const socks = await startSocks5(DELAY_MS)
  const relays: Relay[] = []
  for (const warm of [WARM, 0]) {
    const r = await startRelay(redis.url, false, { prefix: `bench-pools-${warm}:`, env: { POOL_WARM_CONNECTIONS: String(warm) } })
    relays.push({ warm, url: r.url, client: new Client(r.url, { pipelining: 1, keepAliveTimeout: 60_000 }), call: await adminApi(r.url) })
  }
  console.log(`bench:pools: upstream ${upstream.url}, SOCKS5 +${DELAY_MS} ms ${socks.url}, relays ${relays.map(r => `${r.url} (POOL_WARM_CONNECTIONS=${r.warm})`).join(', ')}`)

  const proxyOf = (route: Route) => (route === 'socks5' ? socks.url : null)
  const routes: Route[] = ['direct', 'socks5']
  // Unmeasured: JIT the hot path of both relays on both routes (and open the client's connection).
  for (const relay of relays) {
    for (const route of routes) {
      const { apiKey } = await freshAccount(relay, `prewarm-${route}`, upstream.url, proxyOf(route))
      for (let i = 0; i < PREWARM_REQUESTS; i++) await timed(relay, apiKey)
    }
  }
  const samples = new Map<string, Sample[]>()
  // Interleaved, so drift on a noisy machine spreads over every configuration alike.
  for (let i = 0; i < ACCOUNTS; i++) {
    for (const route of routes) {
      for (const relay of relays) {
        const s = await measure(relay, `fresh-${route}-${i}`, upstream.url, proxyOf(route))
        samples.set(`${route}/${relay.warm}`, [...samples.get(`${route}/${relay.warm}`) ?? [], s])
        console.log(`  account ${i + 1}/${ACCOUNTS} ${route} warm=${relay.warm}: first ${f(s.firstMs)} ms, steady p50 ${f(percentile([...s.steady].sort((a, b) => a - b), 50))} ms`)
      }
    }
  }
  await Promise.all(relays.map(r => r.client.close()))
  await stopAll()

  const rows = routes.flatMap(route => relays.map(r => summarise(route, r.warm, samples.get(`${route}/${r.warm}`)!)))
  console.log(`\n${table(rows)}\n`)
  const [dw, dc, sw, sc] = [rows[0]!, rows[1]!, rows[2]!, rows[3]!]
  console.log(`first request through the proxy: ${f(sw.first.p50)} ms pre-warmed (${f(sw.first.p50 / dw.first.p50)}x direct) vs ${f(sc.first.p50)} ms without (${f(sc.first.p50 / dc.first.p50)}x direct): pre-warming saves ${f(sc.first.p50 - sw.first.p50, 0)} ms`)
  console.log(`steady state through the proxy: p50 ${f(sw.steady.p50)} vs ${f(sc.steady.p50)} ms (kept-alive connections pay the ${DELAY_MS} ms once)`)
  const la = (l: number[]) => l.map(x => x.toFixed(2)).join(' ')
  console.log(`machine: ${cpus().length} CPUs, load average ${la(loadBefore)} before, ${la(loadavg())} after`)

  const outDir = resolve('bench/results')
  mkdirSync(outDir, { recursive: true })
  writeFileSync(resolve(outDir, 'pools.json'), `${JSON.stringify({
    finishedAt: new Date().toISOString(),
    config: { accounts: ACCOUNTS, steady: STEADY, proxyDelayMs: DELAY_MS, warm: WARM, coldWaitMs: COLD_WAIT_MS, prewarmRequests: PREWARM_REQUESTS },
    machine: { cpus: cpus().length, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
    rows: rows.map(({ samples: s, ...r }) => ({ ...r, samples: s.map(({ steady, ...x }) => ({ ...x, steadyMs: steady.map(v => Math.round(v * 1000) / 1000) })) })),
  }, null, 2)}\n`)
  console.log('wrote bench/results/pools.json')
}

main().catch(async (err: Error) => {
  console.error(`bench:pools failed: ${err.stack ?? err.message}`)
  await stopAll().catch(() => killAllSync())
  process.exit(1)
})
