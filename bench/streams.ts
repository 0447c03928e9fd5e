// `npm run bench:streams`: many concurrent paced streams on one machine (issue 13 §8). Private
// Redis + fake upstream (HTTPS offering HTTP/2 by default, as Anthropic's API does) + built relay.
// A paced stream: the upstream answers after BENCH_HEADER_DELAY_MS (200), then sends 20 SSE events
// (BENCH_DELTAS = 14 content deltas + 6 framing events) BENCH_DELAY_MS (50) apart: ~1.2 s each.
//
// Load: for each N, an open burst of N clients started at once, each running
// BENCH_STREAMS_PER_CLIENT (3) streams back to back over its own HTTP/1.1 connection (undici Pool,
// connections = N, pipelining 1). For each N, direct first (straight to the upstream over TLS,
// trusting the test CA: the N TLS handshakes at the burst start count into direct's first TTFBs),
// then through the floor (bench/floor.ts: a bare Node proxy speaking to the upstream as the relay
// does — what any relay in Node adds, measured on the same machine in the same round), then
// through the relay (plain HTTP, as clients on the same host would); each burst opens fresh
// client connections. One unmeasured burst (50 clients × 2) on each warms them up first.
// TTFB = request sent → first body byte (the first SSE event). Completed = status 200 and exactly
// the 20 events, the last one message_stop. Throughput = completed streams / (burst start → last
// stream done). Relay CPU-ms per stream from /proc/<pid>/stat over the burst; "recorded" = requests
// the relay counted in Redis (usage:total) during the burst; upstream connects/errors from its
// /connection-pools, requests queued for an upstream connection from its /health (every 500 ms).
// Prints a table and the issue's targets, writes bench/results/streams-latest.json.
//
// `npm run bench:streams -- --soak`: BENCH_SOAK_MINUTES (10) at moderate load instead — 64 clients
// (BENCH_SOAK_CLIENTS) alternating streamed and non-streamed requests against a faster upstream
// (50 ms to first byte, 10 events 20 ms apart unless the BENCH_* upstream variables say otherwise),
// sampled every BENCH_SOAK_SAMPLE_SECONDS (10) after BENCH_SOAK_WARMUP_SECONDS (30) of load: relay
// RSS, Redis used_memory, relay open fds; slopes by least squares, the relay at rest before and
// after, the Redis key families that grew, and whether every 200 was recorded; writes
// bench/results/soak-latest.json.
//
// Env: BENCH_STREAMS_N ("1000,2000"), BENCH_STREAMS_PER_CLIENT (3), BENCH_STREAMS_ROUNDS (1: direct,
// floor, relay this many times per N; the targets take the median of the per-round figures),
// BENCH_STREAMS_FLOOR=0 (no floor bursts), BENCH_UPSTREAM (h2 | https |
// http, default h2; `-- --http` = http), BENCH_HEADER_DELAY_MS / BENCH_DELTAS / BENCH_DELAY_MS (the
// upstream's pacing), BENCH_RELAY_ENV (extra relay env, e.g. 'POOL_MAX_CONNECTIONS=4000,LOG_LEVEL=warn'),
// BENCH_RELAY_CA (extra | file: how the relay trusts the test CA, see caEnv below), BENCH_LOG_LEVEL
// (relay LOG_LEVEL, default info), BENCH_STREAMS_TIMEOUT_SECONDS (per request, 60), BENCH_STRICT=1
// (exit 1 when an issue target fails). Needs `ulimit -n` ≥ 3 × max N + 100.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import Redis from 'ioredis'
import { TEST_TLS } from '../tests/fixtures/anthropic-upstream'
import { adminApi, benchRelayEnv, type Child, pinCpus, ensureBuild, killAllSync, provision, startFloor, startRedis, startRelay, startUpstream, stopAll } from './procs'
import { runSoak, soakTable } from './soak'
import { type BurstResult, type Target, clientPool, runBurst } from './stream-load'
import { QueueSampler, RssSampler, listenDrops, percentile, procCpuMs, recordedRequests, relayPoolTotals } from './stats'
import { type StreamRow, checkStreamTargets, floorSummary, streamsTable } from './streams-report'

const env = process.env
const SOAK = process.argv.includes('--soak')
const UPSTREAM = process.argv.includes('--http') ? 'http' : (env.BENCH_UPSTREAM ?? 'h2')
const NS = (env.BENCH_STREAMS_N ?? '1000,2000').split(',').map(Number).filter(n => n > 0)
const PER_CLIENT = Number(env.BENCH_STREAMS_PER_CLIENT ?? 3)
const ROUNDS = Number(env.BENCH_STREAMS_ROUNDS ?? 1)
const TIMEOUT_MS = Number(env.BENCH_STREAMS_TIMEOUT_SECONDS ?? 60) * 1000
const PIN = env.BENCH_PIN ?? 'none'
const FLOOR = !SOAK && env.BENCH_STREAMS_FLOOR !== '0'
const VIAS: StreamRow['via'][] = FLOOR ? ['direct', 'floor', 'relay'] : ['direct', 'relay']
const SOAK_MINUTES = Number(env.BENCH_SOAK_MINUTES ?? 10)
const SOAK_CLIENTS = Number(env.BENCH_SOAK_CLIENTS ?? 64)
const KEY_PREFIX = 'bench:' // startRelay's default REDIS_KEY_PREFIX
const MB = 1024 * 1024
// The upstream's pacing: paced streams for the table, shorter ones for the soak (thousands of requests).
const PACING = SOAK ? { header: 50, deltas: 4, delay: 20 } : { header: 200, deltas: 14, delay: 50 }
const upstreamEnv = {
  BENCH_HEADER_DELAY_MS: env.BENCH_HEADER_DELAY_MS ?? String(PACING.header),
  BENCH_DELTAS: env.BENCH_DELTAS ?? String(PACING.deltas),
  BENCH_DELAY_MS: env.BENCH_DELAY_MS ?? String(PACING.delay),
  BENCH_UPSTREAM_TLS: UPSTREAM === 'http' ? '0' : '1',
  BENCH_UPSTREAM_HTTP2: UPSTREAM === 'h2' ? '1' : '0',
}
const EVENTS = Number(upstreamEnv.BENCH_DELTAS) + 6 // sseEvents(): 3 events before the deltas, 3 after

function fail(message: string): never {
  console.error(`bench:streams: ${message}`)
  process.exit(2)
}
if (!['h2', 'https', 'http'].includes(UPSTREAM)) fail(`BENCH_UPSTREAM must be h2, https or http (got ${UPSTREAM})`)
if (!SOAK && (NS.length === 0 || !(PER_CLIENT >= 1) || !Number.isInteger(ROUNDS) || ROUNDS < 1)) fail('BENCH_STREAMS_N must be a list like 1000,2000, BENCH_STREAMS_PER_CLIENT ≥ 1 and BENCH_STREAMS_ROUNDS a whole number ≥ 1')
if (SOAK && !(SOAK_MINUTES > 0 && SOAK_CLIENTS >= 1)) fail('BENCH_SOAK_MINUTES must be > 0 and BENCH_SOAK_CLIENTS ≥ 1')

/**
 * How the relay trusts the test CA. `extra` (default): NODE_EXTRA_CA_CERTS, so the relay runs as
 * against a publicly trusted upstream. `file`: UPSTREAM_CA_FILE, which the relay adds to the ~145
 * root certificates it passes to every TLS connect (~20 ms of CPU per new upstream connection).
 */
function caEnv(): Record<string, string> {
  if (UPSTREAM === 'http') return {}
  return (env.BENCH_RELAY_CA ?? 'extra') === 'file' ? { UPSTREAM_CA_FILE: TEST_TLS.caFile } : { NODE_EXTRA_CA_CERTS: TEST_TLS.caFile }
}

/** BENCH_RELAY_ENV 'A=1,B=2' → { A: '1', B: '2' }. */
function relayEnv(): Record<string, string> {
  try {
    return { ...caEnv(), ...benchRelayEnv() }
  }
  catch (err) {
    fail((err as Error).message)
  }
}

/** Every socket is a file descriptor: the relay holds N client sockets plus its upstream ones, the upstream N direct ones. */
function checkFdLimit(n: number): number {
  const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim())
  if (Number.isFinite(limit) && limit < 3 * n + 100) fail(`ulimit -n is ${limit}, N=${n} needs ≥ ${3 * n + 100}: raise it (\`ulimit -n ${Math.max(8192, 3 * n + 100)}\`) and run again`)
  return limit
}

process.on('exit', killAllSync)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\nbench:streams: ${sig}, stopping children`)
    killAllSync()
    process.exit(130)
  })
}

const body = (stream: boolean) => JSON.stringify({ model: 'claude-sonnet-4-5-20250929', max_tokens: 1024, stream, messages: [{ role: 'user', content: 'Say hello.' }] })
const headers = (key: string) => ({ 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key })
const capMs = PER_CLIENT * (TIMEOUT_MS + 5000) + 30_000

interface Rig { relay: Child, relayUrl: string, upstreamUrl: string, floor: { child: Child, url: string } | null, apiKey: string, monitor: Redis, admin: Awaited<ReturnType<typeof adminApi>>, ca?: Buffer }

/**
 * One burst of `n` clients straight to the upstream, through the relay or through the bare Node
 * proxy (the floor), with the proxy's CPU and RSS and (relay) its recordings around it.
 */
async function burst(rig: Rig, via: StreamRow['via'], n: number, perClient = PER_CLIENT, round = 1): Promise<StreamRow & { raw: BurstResult }> {
  const relayed = via === 'relay'
  const proxy = via === 'floor' ? rig.floor!.child : via === 'relay' ? rig.relay : null
  const sampled = proxy ?? rig.relay // a direct burst samples the idle relay, and reports nothing of it
  const target: Target = relayed
    ? { origin: rig.relayUrl, path: '/api/v1/messages', headers: headers(rig.apiKey) }
    : { origin: via === 'floor' ? rig.floor!.url : rig.upstreamUrl, path: '/v1/messages', headers: headers('sk-ant-api03-bench-direct') }
  const pool = clientPool(target.origin, n, TIMEOUT_MS, via === 'direct' ? rig.ca : undefined)
  const recordedBefore = await recordedRequests(rig.monitor, KEY_PREFIX)
  const warnBefore = rig.relay.warnLines
  const poolsBefore = await relayPoolTotals(rig.admin)
  const rss = new RssSampler(sampled.pid).start()
  const queue = new QueueSampler(rig.relayUrl).start()
  const cpuBefore = procCpuMs(sampled.pid)
  const dropsBefore = listenDrops()
  const r = await runBurst({ pool, target, body: body(true), expect: { stream: true, events: EVENTS }, clients: n, perClient, capMs })
  const cpuMs = procCpuMs(sampled.pid) - cpuBefore
  const drops = listenDrops() - dropsBefore
  const rssMaxMB = rss.stop() / MB
  const queuedMax = queue.stop()
  const poolsAfter = await relayPoolTotals(rig.admin)
  await pool.destroy()
  let recorded = 0
  if (relayed) {
    // Recording runs beside the response; give it a moment to land.
    for (let until = Date.now() + 10_000; Date.now() < until; await new Promise(res => setTimeout(res, 250))) {
      recorded = await recordedRequests(rig.monitor, KEY_PREFIX) - recordedBefore
      if (recorded >= r.completed) break
    }
  }
  return {
    n, via, round, started: r.started, completed: r.completed, streamsPerSec: r.completed / (r.wallMs / 1000),
    ttfbP50: percentile(r.ttfbMs, 50), ttfbP99: percentile(r.ttfbMs, 99), ttfbP50ByWave: r.ttfbByWaveMs.map(w => percentile(w, 50)), durationP50: percentile(r.ms, 50),
    relayRssMaxMB: proxy ? rssMaxMB : null, relayCpuMsPerStream: proxy ? cpuMs / Math.max(1, r.completed) : null,
    recorded: relayed ? recorded : null, errors: r.errors, errorSamples: r.errorSamples,
    upstreamConnects: relayed ? poolsAfter.connects - poolsBefore.connects : null,
    upstreamErrors: relayed ? poolsAfter.connectErrors - poolsBefore.connectErrors + poolsAfter.requestErrors - poolsBefore.requestErrors : null,
    queuedMax: relayed ? queuedMax : null, listenDrops: drops,
    relayWarnLines: rig.relay.warnLines - warnBefore, raw: r,
  }
}

function headCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  }
  catch {
    return null
  }
}

function write(name: string, doc: object): void {
  const outDir = resolve('bench/results')
  mkdirSync(outDir, { recursive: true })
  writeFileSync(resolve(outDir, name), `${JSON.stringify(doc, null, 2)}\n`)
  console.log(`\nwrote bench/results/${name}`)
}

async function main(): Promise<void> {
  const fdLimit = checkFdLimit(SOAK ? SOAK_CLIENTS : Math.max(...NS))
  const budgetMs = 180_000 + (SOAK ? (SOAK_MINUTES * 60 + 120) * 1000 : NS.length * ROUNDS * 2 * (capMs + 20_000))
  const watchdog = setTimeout(() => {
    console.error(`bench:streams: still running after ${Math.round(budgetMs / 1000)} s, giving up`)
    killAllSync()
    process.exit(2)
  }, budgetMs)
  watchdog.unref()

  await ensureBuild()
  const loadBefore = loadavg()
  const redis = await startRedis()
  const upstream = await startUpstream(upstreamEnv)
  const extraEnv = relayEnv()
  const relay = await startRelay(redis.url, env.BENCH_PROFILE === '1', { prefix: KEY_PREFIX, env: extraEnv })
  if (PIN === 'split') {
    // The relay and its Redis on the last CPU, the load generator and the fake upstream on the others.
    const last = cpus().length - 1
    for (const pid of [relay.child.pid, redis.child.pid]) pinCpus(pid, String(last))
    for (const pid of [process.pid, upstream.child.pid]) pinCpus(pid, `0-${last - 1}`)
  }
  const { apiKey } = await provision(relay.url, upstream.url)
  const floor = FLOOR ? await startFloor(upstream.url, { FLOOR_HTTP2: UPSTREAM === 'h2' ? '1' : '0', ...(UPSTREAM === 'http' ? {} : { NODE_EXTRA_CA_CERTS: TEST_TLS.caFile }) }) : null
  const monitor = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  const rig: Rig = { relay: relay.child, relayUrl: relay.url, upstreamUrl: upstream.url, floor, apiKey, monitor, admin: await adminApi(relay.url), ca: UPSTREAM === 'http' ? undefined : readFileSync(TEST_TLS.caFile) }
  console.log(`bench:streams: upstream ${upstream.url} (${UPSTREAM}; ${upstreamEnv.BENCH_HEADER_DELAY_MS} ms to first byte, ${EVENTS} events ${upstreamEnv.BENCH_DELAY_MS} ms apart), `
    + `relay ${relay.url} (pid ${relay.child.pid}${Object.keys(extraEnv).length ? `, ${Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}), ulimit -n ${fdLimit}`)
  const common = {
    finishedAt: '', build: { commit: headCommit() }, upstream: { protocol: UPSTREAM, ...upstreamEnv, events: EVENTS }, relayEnv: extraEnv,
    machine: { cpus: cpus().length, node: process.version, loadavgBefore: loadBefore, loadavgAfter: [] as number[] },
  }
  try {
    // Unmeasured: JIT the hot path and open the relay's upstream connections.
    for (const via of VIAS) await burst(rig, via, Math.min(50, Math.max(...NS)), 2)
    if (SOAK) return await soak(rig, common)
    const rows: StreamRow[] = []
    for (const n of NS) {
      // Direct, the floor, then relay, ROUNDS times: each relay burst is judged against the direct one of its round.
      for (let round = 1; round <= ROUNDS; round++) {
        for (const via of VIAS) {
          const { raw: _raw, ...row } = await burst(rig, via, n, PER_CLIENT, round)
          rows.push(row)
          console.log(`  N=${n}${ROUNDS > 1 ? ` round ${round}` : ''} ${via}: ${row.completed}/${row.started} completed, ${row.streamsPerSec.toFixed(0)} streams/s, TTFB p50 ${row.ttfbP50.toFixed(0)} ms, ${row.errors} errors`)
          if (relay.child.proc.exitCode !== null) throw new Error(`relay died during N=${n}:\n${relay.child.tail.join('\n')}`)
          await new Promise(r => setTimeout(r, 2000)) // let both sides close the burst's sockets
        }
      }
    }
    const checks = checkStreamTargets(rows)
    console.log(`\n${streamsTable(rows, PER_CLIENT)}\n`)
    for (const line of floorSummary(rows)) console.log(line)
    for (const r of rows.filter(x => x.errors)) console.log(`errors N=${r.n} ${r.via}: ${r.errorSamples.join(' | ')}`)
    console.log(`machine: ${cpus().length} CPUs, load average ${loadBefore.map(x => x.toFixed(2)).join(' ')} before, ${loadavg().map(x => x.toFixed(2)).join(' ')} after`)
    console.log(`\nTargets (issue 13 §8):\n${checks.map(c => `${c.name.padEnd(58)} ${c.measured.padStart(22)}  ${c.pass ? 'PASS' : 'FAIL'}${c.issueTarget ? '' : '  (the issue sets it at another N)'}`).join('\n')}`)
    write('streams-latest.json', { ...common, finishedAt: new Date().toISOString(), machine: { ...common.machine, loadavgAfter: loadavg() }, config: { ns: NS, perClient: PER_CLIENT, rounds: ROUNDS, timeoutMs: TIMEOUT_MS }, rows, targets: checks, relayLogTail: relay.child.tail.slice(-20) })
    if (env.BENCH_STRICT === '1' && checks.some(c => c.issueTarget && !c.pass)) process.exitCode = 1
  }
  finally {
    monitor.disconnect()
    await stopAll()
  }
}

async function soak(rig: Rig, common: { finishedAt: string, machine: { loadavgAfter: number[] } }): Promise<void> {
  const warmupSeconds = Number(env.BENCH_SOAK_WARMUP_SECONDS ?? 30)
  const sampleSeconds = Number(env.BENCH_SOAK_SAMPLE_SECONDS ?? 10)
  console.log(`bench:streams: soak, ${SOAK_CLIENTS} clients for ${SOAK_MINUTES} min after ${warmupSeconds} s warm-up, a sample every ${sampleSeconds} s`)
  const r = await runSoak({
    relayPid: rig.relay.pid, target: { origin: rig.relayUrl, path: '/api/v1/messages', headers: headers(rig.apiKey) },
    streamBody: body(true), jsonBody: body(false), streamEvents: EVENTS, redis: rig.monitor, keyPrefix: KEY_PREFIX, admin: rig.admin,
    clients: SOAK_CLIENTS, minutes: SOAK_MINUTES, warmupSeconds, sampleSeconds, timeoutMs: TIMEOUT_MS,
  })
  console.log(`\n${soakTable(r, SOAK_MINUTES, SOAK_CLIENTS)}`)
  if (r.errors) console.log(`errors: ${r.errorSamples.join(' | ')}`)
  console.log(`relay warn/error log lines: ${rig.relay.warnLines}`)
  write('soak-latest.json', { ...common, finishedAt: new Date().toISOString(), machine: { ...common.machine, loadavgAfter: loadavg() }, config: { minutes: SOAK_MINUTES, clients: SOAK_CLIENTS, warmupSeconds, sampleSeconds }, ...r, relayWarnLines: rig.relay.warnLines, relayLogTail: rig.relay.tail.slice(-20) })
}

main().catch(async (err: Error) => {
  console.error(`bench:streams failed: ${err.stack ?? err.message}`)
  await stopAll().catch(() => killAllSync())
  process.exit(1)
})
