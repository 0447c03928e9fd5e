// The soak of `npm run bench:streams -- --soak`: moderate closed-loop load on the relay for
// minutes (clients alternating streamed and non-streamed requests), sampling the relay's RSS and
// open file descriptors and Redis's used_memory; slopes by least squares, and at the end whether
// every answered request was recorded.
import { setMaxListeners } from 'node:events'
import type Redis from 'ioredis'
import { type Expect, type Target, clientPool, oneRequest } from './stream-load'
import { keyFamilyGrowth, percentile, procFdCount, procRssBytes, recordedRequests, redisKeyFamilies, redisUsedMemory, relayPoolTotals, slope } from './stats'

const MB = 1024 * 1024
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

export interface SoakOptions {
  relayPid: number
  target: Target
  streamBody: string
  jsonBody: string
  streamEvents: number
  redis: Redis
  keyPrefix: string
  /** procs.ts adminApi caller (reads /connection-pools). */
  admin: <T>(method: string, path: string) => Promise<T>
  clients: number
  minutes: number
  /** Load before the first sample (heap growth and JIT are not a leak). */
  warmupSeconds: number
  sampleSeconds: number
  timeoutMs: number
}

export interface SoakSample {
  /** Minutes since the first sample. */
  atMin: number
  rssMB: number
  redisMB: number
  fds: number
  /** Requests finished since the previous sample, and the streams' TTFB p50 among them. */
  requests: number
  streamTtfbP50: number
}

/** The relay at rest; `upstreamOpen` of its fds are upstream connections (on-demand ones close only at pool housekeeping, POOL_HEALTH_CHECK_SECONDS). */
interface Idle { rssMB: number, fds: number, upstreamOpen: number }

export interface SoakResult {
  samples: SoakSample[]
  rssSlopeMBPerMin: number
  redisSlopeMBPerMin: number
  /** Before the load (the relay provisioned and pre-warmed), and after it stopped and the clients disconnected. */
  idleBefore: Idle
  idleAfter: Idle
  /** Redis key families whose memory grew from the first sample to the end. */
  redisGrowth: string[]
  requests: number
  ok: number
  errors: number
  errorSamples: string[]
  /** Requests the relay recorded (usage:total) during the soak, counted once recording settled. */
  recorded: number
  everyRequestRecorded: boolean
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const pool = clientPool(o.target.origin, o.clients, o.timeoutMs)
  const stop = new AbortController()
  setMaxListeners(o.clients + 10, stop.signal) // one listener per in-flight request
  const recordedBefore = await recordedRequests(o.redis, o.keyPrefix)
  const idle = async (): Promise<Idle> => ({ rssMB: procRssBytes(o.relayPid) / MB, fds: procFdCount(o.relayPid), upstreamOpen: (await relayPoolTotals(o.admin)).open })
  const idleBefore = await idle()
  const samples: SoakSample[] = []
  const errorSamples = new Set<string>()
  let requests = 0
  let ok = 0
  let errors = 0
  let interval: { n: number, ttfb: number[] } = { n: 0, ttfb: [] }
  let running = true

  const client = async (i: number) => {
    for (let j = i; running; j++) {
      const stream = j % 2 === 0
      const expect: Expect = stream ? { stream: true, events: o.streamEvents } : { stream: false }
      const r = await oneRequest(pool, o.target, stream ? o.streamBody : o.jsonBody, expect, stop.signal)
      requests++
      interval.n++
      if (r.ok) {
        ok++
        if (stream) interval.ttfb.push(r.ttfbMs)
      }
      else {
        errors++
        if (errorSamples.size < 5) errorSamples.add(r.error!)
        await sleep(50) // don't spin on a failing relay
      }
    }
  }
  const clients = Array.from({ length: o.clients }, (_, i) => client(i))

  await sleep(o.warmupSeconds * 1000)
  const t0 = performance.now()
  const take = async () => {
    const ttfb = interval.ttfb.sort((a, b) => a - b)
    samples.push({
      atMin: (performance.now() - t0) / 60_000, rssMB: procRssBytes(o.relayPid) / MB, redisMB: await redisUsedMemory(o.redis) / MB,
      fds: procFdCount(o.relayPid), requests: interval.n, streamTtfbP50: percentile(ttfb, 50),
    })
    interval = { n: 0, ttfb: [] }
    const s = samples.at(-1)!
    console.log(`  soak ${s.atMin.toFixed(1)} min: relay RSS ${s.rssMB.toFixed(1)} MB, Redis ${s.redisMB.toFixed(2)} MB, fds ${s.fds}, ${s.requests} requests (stream TTFB p50 ${s.streamTtfbP50.toFixed(0)} ms), ${errors} errors so far`)
  }
  await take()
  const familiesAtStart = await redisKeyFamilies(o.redis)
  const endAt = t0 + o.minutes * 60_000
  while (performance.now() < endAt) {
    await sleep(Math.min(o.sampleSeconds * 1000, endAt - performance.now()))
    await take()
  }
  running = false
  const drain = setTimeout(() => stop.abort(new Error('bench: soak request still running 30 s after the end')), 30_000)
  await Promise.all(clients)
  clearTimeout(drain)
  await pool.close()

  // Recording is asynchronous (a journal beside the response): wait until it stops moving.
  let recorded = 0
  for (let until = Date.now() + 15_000, last = -1; Date.now() < until; await sleep(500)) {
    recorded = await recordedRequests(o.redis, o.keyPrefix) - recordedBefore
    if (recorded >= ok || recorded === last) break
    last = recorded
  }
  const redisGrowth = keyFamilyGrowth(familiesAtStart, await redisKeyFamilies(o.redis))
  await sleep(1000) // let the relay close the client sockets
  const points = (y: (s: SoakSample) => number) => samples.map(s => ({ x: s.atMin, y: y(s) }))
  return {
    samples, rssSlopeMBPerMin: slope(points(s => s.rssMB)), redisSlopeMBPerMin: slope(points(s => s.redisMB)),
    idleBefore, idleAfter: await idle(), redisGrowth,
    requests, ok, errors, errorSamples: [...errorSamples], recorded, everyRequestRecorded: recorded === ok,
  }
}

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '–')

/** The soak's closing table: start, end and slope per measure. */
export function soakTable(r: SoakResult, minutes: number, clients: number): string {
  const a = r.samples[0]!
  const b = r.samples.at(-1)!
  const rows = [
    ['measure', 'idle before', 'start', 'end', 'slope', 'idle after'],
    ['relay RSS (MB)', f(r.idleBefore.rssMB, 1), f(a.rssMB, 1), f(b.rssMB, 1), `${f(r.rssSlopeMBPerMin, 3)} MB/min`, f(r.idleAfter.rssMB, 1)],
    ['Redis used_memory (MB)', '', f(a.redisMB, 2), f(b.redisMB, 2), `${f(r.redisSlopeMBPerMin, 3)} MB/min`, ''],
    ['relay open fds (upstream)', `${r.idleBefore.fds} (${r.idleBefore.upstreamOpen})`, String(a.fds), String(b.fds), '', `${r.idleAfter.fds} (${r.idleAfter.upstreamOpen})`],
    ['stream TTFB p50 (ms)', '', f(a.streamTtfbP50, 0), f(b.streamTtfbP50, 0), '', ''],
  ]
  const w = rows[0]!.map((_, i) => Math.max(...rows.map(x => x[i]!.length)))
  const lines = rows.map(x => x.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '))
  lines.splice(1, 0, `(${clients} clients, ${f(minutes, 1)} min measured after the warm-up; start/end = first/last sample, slope = least squares over ${r.samples.length} samples)`)
  lines.push(`Redis growth by key family (first sample → end): ${r.redisGrowth.join(', ') || 'none'}`)
  lines.push(`requests ${r.requests}, answered 200 ${r.ok}, errors ${r.errors}; recorded by the relay ${r.recorded} → every request recorded: ${r.everyRequestRecorded ? 'yes' : 'NO'}`)
  return lines.join('\n')
}
