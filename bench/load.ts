// Closed-loop load generator: `concurrency` workers, each sends a request, reads the whole body,
// and sends the next one. Only requests that finish inside the measurement window count.
import { setMaxListeners } from 'node:events'
import { Pool } from 'undici'
import { percentile } from './stats'

export interface LoadOptions {
  origin: string
  path: string
  headers: Record<string, string>
  body: string
  stream: boolean
  concurrency: number
  warmupMs: number
  durationMs: number
  /** Called when the measurement window opens and closes (take snapshots here). */
  onWindowStart: () => Promise<void>
  onWindowEnd: () => Promise<void>
  /** Per-request header/body timeout. */
  timeoutMs?: number
}

export interface LoadResult {
  /** Requests that finished OK inside the window. */
  completed: number
  /** Failed requests during the whole scenario (warm-up included). */
  errors: number
  errorSamples: string[]
  /** Requests sent during the whole scenario (warm-up included). */
  sent: number
  windowMs: number
  reqPerSec: number
  latencyMs: { p50: number, p99: number, max: number }
  ttfbMs: { p50: number, p99: number }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** Does a complete body look like what the fake upstream sends (no truncation)? */
export function looksComplete(tail: string, stream: boolean): boolean {
  return stream ? tail.includes('event: message_stop') : /"usage":\{[^}]*\}\s*\}\s*$/.test(tail)
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const timeoutMs = o.timeoutMs ?? 10_000
  const pool = new Pool(o.origin, {
    connections: o.concurrency, pipelining: 1, keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
  })
  const latencies: number[] = []
  const ttfbs: number[] = []
  const errorSamples = new Set<string>()
  let errors = 0
  let sent = 0
  let windowStart = Number.POSITIVE_INFINITY
  let windowEnd = Number.POSITIVE_INFINITY
  let stop = false
  // Hard bound: nothing may still be running this long after the window closes.
  const hardStop = new AbortController()
  setMaxListeners(o.concurrency + 10, hardStop.signal) // one listener per in-flight request

  const fail = (why: string) => {
    errors++
    if (errorSamples.size < 5) errorSamples.add(why)
  }

  async function one(): Promise<void> {
    sent++
    const t0 = performance.now()
    let first = 0
    let tail = ''
    try {
      const res = await pool.request({ method: 'POST', path: o.path, headers: o.headers, body: o.body, signal: hardStop.signal })
      for await (const chunk of res.body) {
        if (!first) first = performance.now()
        tail = (tail + (chunk as Buffer).toString('utf8')).slice(-512)
      }
      const t1 = performance.now()
      if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}: ${tail.slice(0, 200)}`)
      if (!looksComplete(tail, o.stream)) return fail(`incomplete body, ends with: ${JSON.stringify(tail.slice(-120))}`)
      if (t1 >= windowStart && t1 <= windowEnd) {
        latencies.push(t1 - t0)
        ttfbs.push((first || t1) - t0)
      }
    }
    catch (err) {
      fail(`${(err as Error).name}: ${(err as Error).message}${(err as { code?: string }).code ? ` (${(err as { code?: string }).code})` : ''}`)
      await sleep(10) // don't spin on a dead target
    }
  }

  async function worker(): Promise<void> {
    while (!stop) await one()
  }

  const workers = Array.from({ length: o.concurrency }, () => worker())
  await sleep(o.warmupMs)
  windowStart = performance.now()
  await o.onWindowStart()
  await sleep(o.durationMs)
  windowEnd = performance.now()
  stop = true
  await o.onWindowEnd()

  const killer = setTimeout(() => hardStop.abort(new Error('bench: request still running 15 s after the window closed')), 15_000)
  await Promise.all(workers)
  clearTimeout(killer)
  await pool.destroy()

  latencies.sort((a, b) => a - b)
  ttfbs.sort((a, b) => a - b)
  const windowMs = windowEnd - windowStart
  return {
    completed: latencies.length, errors, errorSamples: [...errorSamples], sent, windowMs,
    reqPerSec: latencies.length / (windowMs / 1000),
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? Number.NaN },
    ttfbMs: { p50: percentile(ttfbs, 50), p99: percentile(ttfbs, 99) },
  }
}
