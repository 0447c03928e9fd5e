// The load of `npm run bench:streams`: one request read to the end with its time to first byte,
// and an open burst of clients that each run requests back to back. Shared by the streams table
// and the soak.
import { setMaxListeners } from 'node:events'
import { Pool } from 'undici'
import { looksComplete } from './load'

export interface Target {
  origin: string
  path: string
  headers: Record<string, string>
}

/** What a complete answer is: a stream of exactly `events` SSE events ending with message_stop, or a whole JSON message. */
export type Expect = { stream: true, events: number } | { stream: false }

export interface Outcome {
  ok: boolean
  /** Request sent → first body byte (for a stream: its first SSE event). */
  ttfbMs: number
  /** Request sent → last body byte. */
  ms: number
  error?: string
}

/**
 * An HTTP/1.1 pool of `connections` sockets to one origin, one request per socket at a time
 * (pipelining 1), as `connections` separate clients would hold. `ca` trusts the fake upstream's test CA.
 */
export function clientPool(origin: string, connections: number, timeoutMs: number, ca?: Buffer): Pool {
  return new Pool(origin, {
    connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
    connect: { timeout: 30_000, ...(ca ? { ca } : {}) },
  })
}

/** One request, read to the end and checked against `expect`. */
export async function oneRequest(pool: Pool, t: Target, body: string, expect: Expect, signal: AbortSignal): Promise<Outcome> {
  const t0 = performance.now()
  let first = 0
  let events = 0
  let lastEvent = ''
  let carry = '' // an incomplete line at the end of a chunk
  let tail = ''
  try {
    const res = await pool.request({ method: 'POST', path: t.path, headers: t.headers, body, signal })
    for await (const chunk of res.body) {
      if (!first) first = performance.now()
      const text = (chunk as Buffer).toString('utf8')
      tail = (tail + text).slice(-512)
      if (!expect.stream) continue
      const lines = (carry + text).split('\n')
      carry = lines.pop()!
      for (const line of lines) {
        if (!line.startsWith('event: ')) continue
        events++
        lastEvent = line.slice(7).trim()
      }
    }
    const ms = performance.now() - t0
    const ttfbMs = (first || performance.now()) - t0
    if (res.statusCode !== 200) return { ok: false, ttfbMs, ms, error: `HTTP ${res.statusCode}: ${tail.slice(0, 200)}` }
    if (expect.stream ? events !== expect.events || lastEvent !== 'message_stop' : !looksComplete(tail, false)) {
      const got = expect.stream ? `${events}/${expect.events} events, last ${lastEvent || 'none'}` : 'truncated JSON'
      return { ok: false, ttfbMs, ms, error: `incomplete answer (${got}), ends with: ${JSON.stringify(tail.slice(-80))}` }
    }
    return { ok: true, ttfbMs, ms }
  }
  catch (err) {
    const code = (err as { code?: string }).code
    const ms = performance.now() - t0
    return { ok: false, ttfbMs: ms, ms, error: `${(err as Error).name}: ${(err as Error).message}${code ? ` (${code})` : ''}` }
  }
}

export interface BurstResult {
  started: number
  completed: number
  errors: number
  errorSamples: string[]
  /** Of the completed requests, ascending. */
  ttfbMs: number[]
  /** The same by wave — [k] holds each client's (k+1)-th request — each ascending. */
  ttfbByWaveMs: number[][]
  ms: number[]
  /** Burst start → last request done. */
  wallMs: number
}

/** Error texts without the numbers in them, so that 2,000 timeouts read as one sample. */
const shape = (e: string) => e.replace(/\d+/g, 'N')

/**
 * `clients` clients start together (an open burst); each runs `perClient` requests back to back
 * over its own connection. Everything still running after `capMs` is aborted and counts as failed.
 */
export async function runBurst(o: { pool: Pool, target: Target, body: string, expect: Expect, clients: number, perClient: number, capMs: number }): Promise<BurstResult> {
  const stop = new AbortController()
  setMaxListeners(o.clients + 10, stop.signal) // one listener per in-flight request
  const cap = setTimeout(() => stop.abort(new Error(`bench: burst still running after ${Math.round(o.capMs / 1000)} s`)), o.capMs)
  const ttfbMs: number[] = []
  const ttfbByWaveMs: number[][] = Array.from({ length: o.perClient }, () => [])
  const ms: number[] = []
  const samples = new Map<string, string>()
  let started = 0
  let errors = 0
  const t0 = performance.now()
  let lastDone = t0
  const client = async () => {
    for (let i = 0; i < o.perClient && !stop.signal.aborted; i++) {
      started++
      const r = await oneRequest(o.pool, o.target, o.body, o.expect, stop.signal)
      lastDone = Math.max(lastDone, performance.now())
      if (r.ok) {
        ttfbMs.push(r.ttfbMs)
        ttfbByWaveMs[i]!.push(r.ttfbMs)
        ms.push(r.ms)
      }
      else {
        errors++
        if (samples.size < 5 && !samples.has(shape(r.error!))) samples.set(shape(r.error!), r.error!)
      }
    }
  }
  await Promise.all(Array.from({ length: o.clients }, client))
  clearTimeout(cap)
  const asc = (a: number, b: number) => a - b
  return {
    started, completed: ttfbMs.length, errors, errorSamples: [...samples.values()],
    ttfbMs: ttfbMs.sort(asc), ttfbByWaveMs: ttfbByWaveMs.map(w => w.sort(asc)), ms: ms.sort(asc), wallMs: lastDone - t0,
  }
}
