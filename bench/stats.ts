// Measurements the bench takes around each scenario: process CPU, RSS and open files from /proc,
// Redis CPU, commands, reads and memory from INFO, recorded requests, percentiles and slopes.
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import type Redis from 'ioredis'

let ticks: number | undefined

/** Clock ticks per second for /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    }
    catch {
      ticks = 100
    }
  }
  return ticks
}

/** CPU time (user + system) a process has used so far, in ms (resolution: one clock tick). */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after "(comm)": state is field 3, so utime (14) and stime (15) are at 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / clockTicks()
}

/** Resident set size of a process in bytes (VmRSS), or 0 once it is gone. */
export function procRssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  }
  catch {
    return 0
  }
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd), or 0 once it is gone. */
export function procFdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  }
  catch {
    return 0
  }
}

/**
 * Machine-wide TCP ListenDrops so far (/proc/net/netstat): connections the kernel dropped because
 * a listener's accept queue was full — the client retries the SYN a second or more later.
 */
export function listenDrops(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter(l => l.startsWith('TcpExt:'))
    const names = lines[0]!.split(' ')
    return Number(lines[1]!.split(' ')[names.indexOf('ListenDrops')] ?? 0) || 0
  }
  catch {
    return 0
  }
}

/** Samples a process's RSS every `everyMs` and keeps the maximum. */
export class RssSampler {
  max = 0
  private timer?: NodeJS.Timeout
  constructor(private readonly pid: number, private readonly everyMs = 100) {}

  start(): this {
    this.sample()
    this.timer = setInterval(() => this.sample(), this.everyMs)
    this.timer.unref()
    return this
  }

  stop(): number {
    clearInterval(this.timer)
    this.sample()
    return this.max
  }

  private sample(): void {
    this.max = Math.max(this.max, procRssBytes(this.pid))
  }
}

export interface RedisSnapshot {
  cpuMs: number
  /** Calls per command name (lower case), from INFO commandstats. */
  calls: Record<string, number>
  reads: number
}

/** One INFO call (one command, one read) returning CPU, commandstats and total reads. */
export async function redisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  const text = String(await redis.call('INFO', 'cpu', 'stats', 'commandstats'))
  const num = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0)
  const calls: Record<string, number> = {}
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2])
  return {
    cpuMs: (num('used_cpu_sys') + num('used_cpu_user')) * 1000,
    calls,
    reads: num('total_reads_processed'),
  }
}

export interface RedisDelta {
  cpuMs: number
  /** Commands other than the bench's own INFO. */
  commands: number
  /** Socket reads other than the bench's own: round trips as Redis saw them. */
  reads: number
  byCommand: Record<string, number>
}

/**
 * What happened in Redis between two snapshots, minus the bench's own traffic: the INFO calls
 * counted in between (each is one command and one read; the relay never sends INFO at run time).
 */
export function redisDelta(a: RedisSnapshot, b: RedisSnapshot): RedisDelta {
  const byCommand: Record<string, number> = {}
  let commands = 0
  let own = 0
  for (const [name, n] of Object.entries(b.calls)) {
    const d = n - (a.calls[name] ?? 0)
    if (d <= 0) continue
    if (name === 'info') {
      own += d
      continue
    }
    byCommand[name] = d
    commands += d
  }
  return { cpuMs: b.cpuMs - a.cpuMs, commands, reads: Math.max(0, b.reads - a.reads - own), byCommand }
}

/** Everything sampled at one instant of a scenario. */
export interface Snapshot {
  at: number
  relayCpuMs: number
  upstreamCpuMs: number
  selfCpuMs: number
  redis: RedisSnapshot
}

export async function snapshot(redis: Redis, relayPid: number, upstreamPid: number): Promise<Snapshot> {
  const self = process.cpuUsage()
  const s = {
    at: performance.now(), relayCpuMs: procCpuMs(relayPid), upstreamCpuMs: procCpuMs(upstreamPid),
    selfCpuMs: (self.user + self.system) / 1000,
  }
  return { ...s, redis: await redisSnapshot(redis) }
}

/** The p-th percentile (0–100) of an ascending array, nearest-rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** Redis `used_memory` in bytes (INFO memory: one command, one read). */
export async function redisUsedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(String(await redis.call('INFO', 'memory')))?.[1] ?? 0)
}

/**
 * Requests the relay has recorded so far, all keys and accounts: the `requests` counter of the
 * `*` field of the all-time usage bucket (server/usage/buckets.ts, docs/redis-layout.md).
 */
export async function recordedRequests(redis: Redis, keyPrefix: string): Promise<number> {
  const packed = await redis.hget(`${keyPrefix}usage:total`, '*')
  return Number(packed?.split(',')[0] ?? 0) || 0
}

/** Least-squares slope of y over x (units of y per unit of x); NaN with fewer than two points. */
export function slope(points: { x: number, y: number }[]): number {
  const n = points.length
  if (n < 2) return Number.NaN
  const mx = points.reduce((a, p) => a + p.x, 0) / n
  const my = points.reduce((a, p) => a + p.y, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.x - mx) * (p.y - my)
    den += (p.x - mx) ** 2
  }
  return den ? num / den : Number.NaN
}

/** A relay's upstream connection pools summed over accounts and origins: open connections and counters; 0 for what it does not report. */
export interface PoolTotals {
  open: number
  connects: number
  connectErrors: number
  requestErrors: number
}

type PoolsState = { accounts?: { origins?: { open?: number, counters?: Partial<PoolTotals> }[] }[] }

/** GET /connection-pools through an admin caller (procs.ts adminApi). */
export async function relayPoolTotals(call: <T>(method: string, path: string) => Promise<T>): Promise<PoolTotals> {
  const sum: PoolTotals = { open: 0, connects: 0, connectErrors: 0, requestErrors: 0 }
  const state = await call<PoolsState>('GET', '/connection-pools')
  for (const o of (state.accounts ?? []).flatMap(a => a.origins ?? [])) {
    sum.open += Number(o.open ?? 0)
    for (const k of ['connects', 'connectErrors', 'requestErrors'] as const) sum[k] += Number(o.counters?.[k] ?? 0)
  }
  return sum
}

/** Polls a relay's /health every `everyMs` and keeps the most requests seen waiting for an upstream connection. */
export class QueueSampler {
  max = 0
  private timer?: NodeJS.Timeout
  constructor(private readonly relayUrl: string, private readonly everyMs = 500) {}

  start(): this {
    this.timer = setInterval(() => void this.sample(), this.everyMs)
    this.timer.unref()
    return this
  }

  stop(): number {
    clearInterval(this.timer)
    return this.max
  }

  private async sample(): Promise<void> {
    try {
      const res = await fetch(`${this.relayUrl}/health`, { signal: AbortSignal.timeout(this.everyMs * 4) })
      const body = (await res.json()) as { components?: { connectionPools?: { queuedRequests?: number } } }
      const queued = Number(body.components?.connectionPools?.queuedRequests ?? 0)
      this.max = Math.max(this.max, queued)
    }
    catch { /* a slow /health under load is not the bench's concern */ }
  }
}

/**
 * Redis memory by key family: every key (SCAN; the bench's private Redis is small) with ids,
 * dates and numbers folded into `*`, summed MEMORY USAGE in bytes and key counts.
 */
export async function redisKeyFamilies(redis: Redis): Promise<Record<string, { keys: number, bytes: number }>> {
  const out: Record<string, { keys: number, bytes: number }> = {}
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 500)
    cursor = next
    const p = redis.pipeline()
    for (const k of keys) p.memory('USAGE', k)
    const sizes = (await p.exec()) ?? []
    keys.forEach((k, i) => {
      const family = k.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16,}|\d[\d:T-]*/gi, '*')
      const f = (out[family] ??= { keys: 0, bytes: 0 })
      f.keys++
      f.bytes += Number(sizes[i]?.[1] ?? 0)
    })
  } while (cursor !== '0')
  return out
}

/** Families whose memory grew between two readings, biggest growth first: "usage:minute:* +12.3 kB (+9 keys)". */
export function keyFamilyGrowth(a: Record<string, { keys: number, bytes: number }>, b: Record<string, { keys: number, bytes: number }>, top = 6): string[] {
  return Object.entries(b)
    .map(([k, v]) => ({ k, bytes: v.bytes - (a[k]?.bytes ?? 0), keys: v.keys - (a[k]?.keys ?? 0) }))
    .filter(x => x.bytes > 0)
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top)
    .map(x => `${x.k} +${(x.bytes / 1024).toFixed(1)} kB (${x.keys >= 0 ? '+' : ''}${x.keys} keys)`)
}
