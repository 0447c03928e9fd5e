// Turns scenario results into the printed table, the target checks and the JSON document.
import type { LoadResult } from './load'

export type Mode = 'non-stream' | 'stream'
/**
 * `limited`: through the relay with a key that has every limit on (none of them reached);
 * `socks5`: through the relay, whose account reaches the upstream through a local SOCKS5 proxy;
 * `floor`: through a bare Node proxy (bench/floor.ts) instead of the relay — what any relay in Node
 * pays per request before it does anything of its own (its CPU shows in the relay columns).
 */
export type Target = 'direct' | 'relay' | 'limited' | 'socks5' | 'floor'

export interface ScenarioResult {
  target: Target
  mode: Mode
  concurrency: number
  load: LoadResult
  /** CPU per completed request, ms, per process (for `direct` the relay and Redis sit idle). */
  cpuMsPerReq: { relay: number, redis: number, upstream: number, loadgen: number }
  redis: { commandsPerReq: number, roundTripsPerReq: number, byCommandPerReq: Record<string, number> }
  relayRssMaxMB: number
}

export interface TargetCheck {
  name: string
  measured: number
  limit: number
  unit: string
  /** true: measured must be ≤ limit; false: ≥ limit. */
  atMost: boolean
  pass: boolean
}

const f = (n: number, digits = 2) => Number.isFinite(n) ? n.toFixed(digits) : '–'
/** A difference with its sign: +1.20, -0.30. */
const signed = (n: number) => `${n >= 0 ? '+' : ''}${f(n)}`
const pad = (s: string, w: number) => s.length >= w ? s : ' '.repeat(w - s.length) + s
const padEnd = (s: string, w: number) => s.length >= w ? s : s + ' '.repeat(w - s.length)

export function find(results: ScenarioResult[], target: Target, mode: Mode, concurrency: number): ScenarioResult | undefined {
  return results.find(r => r.target === target && r.mode === mode && r.concurrency === concurrency)
}

const COLUMNS: [string, number][] = [
  ['scenario', 18], ['target', 7], ['req/s', 8], ['lat p50', 8], ['lat p99', 8], ['ttfb p50', 9], ['ttfb p99', 9],
  ['relay cpu', 10], ['redis cpu', 10], ['up cpu', 7], ['gen cpu', 8], ['cmds', 6], ['rtts', 6], ['rss MB', 7], ['errors', 7],
]

function row(cells: string[]): string {
  return cells.map((c, i) => i < 2 ? padEnd(c, COLUMNS[i]![1]) : pad(c, COLUMNS[i]![1])).join(' ')
}

function scenarioRow(label: string, r: ScenarioResult): string {
  const proxied = r.target !== 'direct'
  const relay = proxied && r.target !== 'floor'
  return row([
    label, r.target, f(r.load.reqPerSec, 0), f(r.load.latencyMs.p50), f(r.load.latencyMs.p99), f(r.load.ttfbMs.p50), f(r.load.ttfbMs.p99),
    proxied ? f(r.cpuMsPerReq.relay, 3) : '–', relay ? f(r.cpuMsPerReq.redis, 3) : '–', f(r.cpuMsPerReq.upstream, 3), f(r.cpuMsPerReq.loadgen, 3),
    relay ? f(r.redis.commandsPerReq, 1) : '–', relay ? f(r.redis.roundTripsPerReq, 2) : '–', proxied ? f(r.relayRssMaxMB, 0) : '–',
    String(r.load.errors),
  ])
}

/** The side-by-side table: for each mode and concurrency, direct, relay and their ratios. */
export function table(results: ScenarioResult[], modes: Mode[], concurrencies: number[]): string {
  const lines = [
    row(COLUMNS.map(([name]) => name)),
    `${' '.repeat(27)}(latency and TTFB in ms; cpu = CPU-ms per request; cmds/rtts = Redis commands/round trips per request; relay cpu and rss on floor rows: the floor's)`,
  ]
  for (const c of concurrencies) {
    for (const mode of modes) {
      const d = find(results, 'direct', mode, c)
      const r = find(results, 'relay', mode, c)
      const l = find(results, 'limited', mode, c)
      const s = find(results, 'socks5', mode, c)
      const fl = find(results, 'floor', mode, c)
      const label = `${mode} c=${c}`
      if (d) lines.push(scenarioRow(label, d))
      if (r) lines.push(scenarioRow(d ? '' : label, r))
      if (l) lines.push(scenarioRow('', l))
      if (s) lines.push(scenarioRow(d || r || l ? '' : label, s))
      if (fl) lines.push(scenarioRow(d || r || l || s ? '' : label, fl))
      if (d && r) {
        lines.push(`${padEnd('', 18)} relay/direct: throughput ${f(r.load.reqPerSec / d.load.reqPerSec)}x, `
          + `latency p50 +${f(r.load.latencyMs.p50 - d.load.latencyMs.p50)} ms, TTFB p50 +${f(r.load.ttfbMs.p50 - d.load.ttfbMs.p50)} ms, `
          + `relay+redis cpu ${f(r.cpuMsPerReq.relay + r.cpuMsPerReq.redis, 3)} ms/req`)
      }
      if (r && l) {
        lines.push(`${padEnd('', 18)} every limit on: throughput ${f(l.load.reqPerSec / r.load.reqPerSec)}x of no limits, `
          + `relay+redis cpu ${f(l.cpuMsPerReq.relay + l.cpuMsPerReq.redis, 3)} ms/req, Redis ${f(l.redis.commandsPerReq, 1)} cmds / ${f(l.redis.roundTripsPerReq, 2)} round trips per request`)
      }
      if (r && fl && d) {
        lines.push(`${padEnd('', 18)} bare Node proxy (floor): throughput ${f(fl.load.reqPerSec / d.load.reqPerSec)}x of direct, `
          + `${f(fl.cpuMsPerReq.relay, 3)} cpu ms/req — the relay uses ${f(r.cpuMsPerReq.relay / fl.cpuMsPerReq.relay, 1)}x the floor's CPU `
          + `(+${f(r.cpuMsPerReq.relay - fl.cpuMsPerReq.relay, 3)} ms/req, Redis aside)`)
      }
      if (r && s) {
        lines.push(`${padEnd('', 18)} relay via SOCKS5/relay direct: throughput ${f(s.load.reqPerSec / r.load.reqPerSec)}x, `
          + `latency p50 ${signed(s.load.latencyMs.p50 - r.load.latencyMs.p50)} ms, TTFB p50 ${signed(s.load.ttfbMs.p50 - r.load.ttfbMs.p50)} ms, `
          + `relay cpu ${f(s.cpuMsPerReq.relay, 3)} vs ${f(r.cpuMsPerReq.relay, 3)} ms/req`)
      }
    }
  }
  return lines.join('\n')
}

/** The targets, checked against this run. */
export function checkTargets(results: ScenarioResult[], relayRssMaxMB: number): TargetCheck[] {
  const checks: TargetCheck[] = []
  const add = (name: string, measured: number | undefined, limit: number, unit: string, atMost = true) => {
    if (measured === undefined || !Number.isFinite(measured)) return
    checks.push({ name, measured, limit, unit, atMost, pass: atMost ? measured <= limit : measured >= limit })
  }
  const r32 = find(results, 'relay', 'non-stream', 32)
  add('CPU per relayed request (relay + Redis), non-stream c=32', r32 && r32.cpuMsPerReq.relay + r32.cpuMsPerReq.redis, 0.6, 'ms')
  for (const mode of ['non-stream', 'stream'] as const) {
    const r = find(results, 'relay', mode, 32)
    const d = find(results, 'direct', mode, 32)
    add(`throughput relay/direct, ${mode} c=32`, r && d && 100 * r.load.reqPerSec / d.load.reqPerSec, 20, '% of direct', false)
  }
  for (const mode of ['non-stream', 'stream'] as const) {
    const r = find(results, 'relay', mode, 1)
    const d = find(results, 'direct', mode, 1)
    add(`TTFB p50 relay - direct, ${mode} c=1`, r && d && r.load.ttfbMs.p50 - d.load.ttfbMs.p50, 1, 'ms')
  }
  const l32 = find(results, 'limited', 'non-stream', 32)
  add('CPU per relayed request with every limit on, non-stream c=32', l32 && l32.cpuMsPerReq.relay + l32.cpuMsPerReq.redis, 0.6, 'ms')
  // Round trips and commands: worst over every relayed scenario, limits on included.
  const relayed = results.filter(r => r.target !== 'direct' && r.target !== 'floor' && r.load.completed > 0)
  if (relayed.length) {
    add('Redis round trips per request (worst scenario)', Math.max(...relayed.map(r => r.redis.roundTripsPerReq)), 3, '')
    add('Redis commands per request (worst scenario)', Math.max(...relayed.map(r => r.redis.commandsPerReq)), 30, '')
  }
  add('relay RSS max over the run', relayRssMaxMB, 200, 'MB')
  return checks
}

export function targetsTable(checks: TargetCheck[]): string {
  const w = Math.max(...checks.map(c => c.name.length))
  return checks.map(c => `${padEnd(c.name, w)}  ${pad(f(c.measured), 8)} ${padEnd(c.unit, 11)}  `
    + `target ${c.atMost ? '≤' : '≥'} ${padEnd(String(c.limit), 4)}  ${c.pass ? 'PASS' : 'FAIL'}`).join('\n')
}

/** Per-command counts per request, biggest first ("hincrby 9, hset 2, …"). */
export function commandMix(r: ScenarioResult): string {
  return Object.entries(r.redis.byCommandPerReq)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n >= 0.01 ? f(n, 2) : n.toPrecision(1)}`)
    .join(', ')
}
