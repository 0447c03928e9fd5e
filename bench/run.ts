// `npm run bench`: private Redis + fake upstream + built relay, closed-loop load at c=1 and c=32,
// stream and non-stream, relay vs direct-to-upstream, and relay through a local SOCKS5 proxy (no
// added delay: what the proxy hop itself costs); prints a table with the issue's targets and writes
// bench/results/latest.json.
//
// Env: BENCH_SECONDS (measured seconds per scenario, default 5), BENCH_WARMUP_SECONDS (1),
// BENCH_CONCURRENCY ("1,32"), BENCH_BODY_KB (extra prompt text, default 0), BENCH_DELTAS (SSE
// deltas per answer, default 3), BENCH_PROFILE=1 (relay runs with --cpu-prof into bench/results), BENCH_MODES ("non-stream,stream")
// and BENCH_TARGETS ("relay,limited,socks5,floor"; direct always runs) to run a subset,
// BENCH_PREWARM_SECONDS (unmeasured load on every target and mode before the first scenario, so
// the first scenario does not pay for JIT warm-up; default 4), BENCH_LOG_LEVEL (relay LOG_LEVEL, default info), BENCH_RELAY_ENV ("A=1,B=2": added to the relay's environment), BENCH_STRICT=1 (exit 1 when a target fails).
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import Redis from 'ioredis'
import { runLoad } from './load'
import { benchRelayEnv, type Child, ensureBuild, killAllSync, provision, startFloor, startRedis, startRelay, startSocks5, startUpstream, stopAll } from './procs'
import { type Mode, type ScenarioResult, type Target, checkTargets, commandMix, find, table, targetsTable } from './report'
import { RssSampler, type Snapshot, procRssBytes, redisDelta, snapshot } from './stats'

const env = process.env
const SECONDS = Number(env.BENCH_SECONDS ?? 5)
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 1)
const CONCURRENCIES = (env.BENCH_CONCURRENCY ?? '1,32').split(',').map(Number).filter(n => n > 0)
const MODES = pick<Mode>(env.BENCH_MODES, ['non-stream', 'stream'])
// direct always runs: every relay figure is a ratio against it.
const TARGETS = pick<Target>(env.BENCH_TARGETS, ['direct', 'relay', 'limited', 'socks5', 'floor'], 'direct')
const PROFILE = env.BENCH_PROFILE === '1'
const PREWARM_SECONDS = Number(env.BENCH_PREWARM_SECONDS ?? 4)
const MB = 1024 * 1024

/** A comma list from the environment, kept to the known values (all of them when unset). */
function pick<T extends string>(list: string | undefined, all: T[], always?: T): T[] {
  if (!list) return all
  const wanted = new Set(list.split(',').map(s => s.trim()))
  return all.filter(v => v === always || wanted.has(v))
}

if (!(SECONDS > 0) || !(WARMUP_SECONDS >= 0) || CONCURRENCIES.length === 0) {
  console.error('bench: BENCH_SECONDS must be > 0, BENCH_WARMUP_SECONDS ≥ 0, BENCH_CONCURRENCY a list like 1,32')
  process.exit(2)
}

// Children die with us, whatever the reason.
process.on('exit', killAllSync)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping children`)
    killAllSync()
    process.exit(130)
  })
}
// Everything is bounded: setup, each scenario (warm-up + window + 20 s drain/slack), build aside.
const budgetMs = 120_000 + (PREWARM_SECONDS + 4 * 20) * 1000 + TARGETS.length * MODES.length * CONCURRENCIES.length * (WARMUP_SECONDS + SECONDS + 20) * 1000

function requestBody(stream: boolean): string {
  const pad = Number(env.BENCH_BODY_KB ?? 0) > 0 ? ` ${'lorem ipsum '.repeat(Math.ceil(Number(env.BENCH_BODY_KB) * 1024 / 12))}` : ''
  return JSON.stringify({
    model: 'claude-sonnet-4-5-20250929', max_tokens: 1024, stream,
    messages: [{ role: 'user', content: `Say hello.${pad}` }],
  })
}

interface Rig { relay: Child, relayUrl: string, upstream: Child, upstreamUrl: string, floor: { child: Child, url: string } | null, apiKey: string, limitedKey: string, socksKey: string, monitor: Redis }

const noop = async () => {}

/** The checked-out commit, for the record (read-only git). */
function headCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  }
  catch {
    return null
  }
}

/** Unmeasured load on every target and mode (c=4), so V8 has optimised the hot path everywhere. */
async function prewarm(rig: Rig): Promise<void> {
  if (!(PREWARM_SECONDS > 0)) return
  const each = PREWARM_SECONDS * 1000 / (TARGETS.length * MODES.length)
  for (const mode of MODES) {
    for (const target of TARGETS) {
      const r = await runLoad({ ...requestFor(rig, target, mode), concurrency: 4, warmupMs: 0, durationMs: each, onWindowStart: noop, onWindowEnd: noop })
      if (r.errors) throw new Error(`pre-warm ${mode} ${target}: ${r.errors} errors: ${r.errorSamples.join(' | ')}`)
    }
  }
}

function requestFor(rig: Rig, target: Target, mode: Mode) {
  const relay = target !== 'direct' && target !== 'floor'
  const stream = mode === 'stream'
  return {
    origin: relay ? rig.relayUrl : target === 'floor' ? rig.floor!.url : rig.upstreamUrl,
    path: relay ? '/api/v1/messages' : '/v1/messages',
    headers: {
      'content-type': 'application/json', 'anthropic-version': '2023-06-01',
      'x-api-key': { direct: 'sk-ant-api03-bench-direct', relay: rig.apiKey, limited: rig.limitedKey, socks5: rig.socksKey, floor: 'sk-ant-api03-bench-floor' }[target],
    },
    body: requestBody(stream), stream,
  }
}

async function scenario(rig: Rig, target: Target, mode: Mode, concurrency: number): Promise<ScenarioResult> {
  let a: Snapshot | undefined
  let b: Snapshot | undefined
  let sampler: RssSampler | undefined
  // The floor's scenarios measure the floor process where the others measure the relay.
  const proxyPid = target === 'floor' ? rig.floor!.child.pid : rig.relay.pid
  const take = () => snapshot(rig.monitor, proxyPid, rig.upstream.pid)
  const load = await runLoad({
    ...requestFor(rig, target, mode), concurrency,
    warmupMs: WARMUP_SECONDS * 1000, durationMs: SECONDS * 1000,
    onWindowStart: async () => {
      sampler = new RssSampler(proxyPid).start()
      a = await take()
    },
    onWindowEnd: async () => {
      b = await take()
      sampler!.stop()
    },
  })
  const n = Math.max(1, load.completed)
  const d = redisDelta(a!.redis, b!.redis)
  return {
    target, mode, concurrency, load,
    cpuMsPerReq: {
      relay: (b!.relayCpuMs - a!.relayCpuMs) / n, redis: d.cpuMs / n,
      upstream: (b!.upstreamCpuMs - a!.upstreamCpuMs) / n, loadgen: (b!.selfCpuMs - a!.selfCpuMs) / n,
    },
    redis: {
      commandsPerReq: d.commands / n, roundTripsPerReq: d.reads / n,
      byCommandPerReq: Object.fromEntries(Object.entries(d.byCommand).map(([k, v]) => [k, v / n])),
    },
    relayRssMaxMB: sampler!.max / MB,
  }
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${Math.round(budgetMs / 1000)} s, giving up`)
    killAllSync()
    process.exit(2)
  }, budgetMs)
  watchdog.unref()

  await ensureBuild()
  const outputBuiltAt = statSync(resolve('.output/server/index.mjs')).mtime.toISOString()
  const startedAt = Date.now()
  const loadBefore = loadavg()
  const redis = await startRedis()
  const upstream = await startUpstream()
  const socks = await startSocks5()
  const floor = TARGETS.includes('floor') ? await startFloor(upstream.url) : null
  const relay = await startRelay(redis.url, PROFILE, { env: benchRelayEnv() })
  const { apiKey, limitedKey, socksKey } = await provision(relay.url, upstream.url, socks.url)
  const monitor = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  const rig: Rig = { relay: relay.child, relayUrl: relay.url, upstream: upstream.child, upstreamUrl: upstream.url, floor, apiKey, limitedKey, socksKey: socksKey!, monitor }
  const rssIdleMB = procRssBytes(relay.child.pid) / MB
  console.log(`bench: redis :${redis.port} (pid ${redis.child.pid}), upstream ${upstream.url} (pid ${upstream.child.pid}), socks5 ${socks.url} (pid ${socks.child.pid}), `
    + `${floor ? `floor ${floor.url} (pid ${floor.child.pid}), ` : ''}`
    + `relay ${relay.url} (pid ${relay.child.pid}${PROFILE ? ', --cpu-prof' : ''}); ${SECONDS} s per scenario after ${WARMUP_SECONDS} s warm-up`)

  const rss = new RssSampler(relay.child.pid).start() // the whole run, warm-ups included
  const results: ScenarioResult[] = []
  try {
    await prewarm(rig)
    for (const c of CONCURRENCIES) {
      for (const mode of MODES) {
        for (const target of TARGETS) {
          const r = await scenario(rig, target, mode, c)
          results.push(r)
          console.log(`  ${mode} c=${c} ${target}: ${r.load.reqPerSec.toFixed(0)} req/s, ${r.load.completed} ok, ${r.load.errors} errors`)
          if (relay.child.proc.exitCode !== null) throw new Error(`relay died during ${mode} c=${c}:\n${relay.child.tail.join('\n')}`)
        }
      }
    }
  }
  finally {
    monitor.disconnect()
  }
  const relayRssMaxMB = rss.stop() / MB
  const relayWarnLines = relay.child.warnLines

  await stopAll()
  const checks = checkTargets(results, relayRssMaxMB)
  console.log(`\n${table(results, MODES, CONCURRENCIES)}\n`)
  const sample = find(results, 'relay', 'non-stream', CONCURRENCIES[0]!)
  if (sample) console.log(`Redis commands per relayed request (non-stream c=${sample.concurrency}): ${commandMix(sample)}`)
  console.log(`relay RSS: ${rssIdleMB.toFixed(0)} MB after start, ${relayRssMaxMB.toFixed(0)} MB max; relay warn/error log lines: ${relayWarnLines}`)
  const errors = results.filter(r => r.load.errors > 0)
  for (const r of errors) console.log(`errors in ${r.mode} c=${r.concurrency} ${r.target}: ${r.load.errors} — ${r.load.errorSamples.join(' | ')}`)
  const la = (l: number[]) => l.map(x => x.toFixed(2)).join(' ')
  console.log(`machine: ${cpus().length} CPUs, load average ${la(loadBefore)} before, ${la(loadavg())} after (other work on the machine skews absolute figures)`)
  console.log(`\nTargets (issue):\n${targetsTable(checks)}`)

  const outDir = resolve('bench/results')
  mkdirSync(outDir, { recursive: true })
  const profiles = PROFILE ? readdirSync(outDir).filter(f => f.endsWith('.cpuprofile') && statSync(resolve(outDir, f)).mtimeMs >= startedAt) : []
  const doc = {
    finishedAt: new Date().toISOString(),
    config: { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, concurrencies: CONCURRENCIES, modes: MODES, bodyKb: Number(env.BENCH_BODY_KB ?? 0), profile: PROFILE },
    build: { outputBuiltAt, commit: headCommit() },
    machine: { cpus: cpus().length, node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
    relay: { rssIdleMB, rssMaxMB: relayRssMaxMB, warnLines: relayWarnLines, logTail: relay.child.tail.slice(-20) },
    scenarios: results,
    targets: checks,
    profiles,
  }
  writeFileSync(resolve(outDir, 'latest.json'), `${JSON.stringify(doc, null, 2)}\n`)
  console.log(`\nwrote bench/results/latest.json${profiles.length ? `; CPU profiles in bench/results: ${profiles.join(', ')}` : ''}`)
  if (env.BENCH_STRICT === '1' && checks.some(c => !c.pass)) process.exitCode = 1
}

main().catch(async (err: Error) => {
  console.error(`bench failed: ${err.stack ?? err.message}`)
  await stopAll().catch(() => killAllSync())
  process.exit(1)
})
