import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { Client, Dispatcher, errors } from 'undici'
import { observeConnectionWait } from '../metrics'
import type { Connector, Target } from './connect'
import { H2Origin } from './h2'
import { legacyOf } from './h2-request'

/** How a pool behaves (from config: POOL_*). */
export interface PoolOptions {
  /** Connections kept open ahead of requests (TCP, proxy handshake, TLS done). */
  warm: number
  /** Upper bound of connections per origin; beyond it requests queue on the least busy one. */
  max: number
  /** On-demand connections beyond the warm ones close after this long idle. */
  idleMs: number
  /** Connections older than this are replaced when idle. */
  maxAgeMs: number
  /** Reconnect backoff cap: 1, 2, 4, 8, 16 s … */
  backoffMaxMs: number
  /** Offer HTTP/2 to an https API origin (UPSTREAM_HTTP2=auto): it is spoken when the upstream picks it. */
  http2?: boolean
}

/**
 * A dispatch option the pools understand (undici passes unknown request options through to
 * `dispatch`): when a request has to wait for a connection — a new one being opened, or a busy
 * one when the pool is at its ceiling — the wait is added to `connectionWaitMs`.
 */
export interface WaitReport { connectionWaitMs: number }

export type PoolEvent = 'connected' | 'disconnected' | 'error' | 'reconnected'
export type PoolListener = (event: PoolEvent, detail: { origin: string, error?: string, handshakeMs?: number }) => void

const SAMPLES = 50

/** A small ring of recent latencies (ms). */
class Latency {
  private readonly v: number[] = []
  private i = 0
  add(ms: number) {
    if (this.v.length < SAMPLES) this.v.push(ms)
    else this.v[this.i++ % SAMPLES] = ms
  }

  summary() {
    if (!this.v.length) return null
    const s = [...this.v].sort((a, b) => a - b)
    const r = (x: number) => Math.round(x * 10) / 10
    return { avg: r(s.reduce((a, b) => a + b, 0) / s.length), p50: r(s[Math.floor(s.length / 2)]!), max: r(s[s.length - 1]!), samples: s.length }
  }
}

/** The delay before the n-th reconnect attempt in a row (n ≥ 1): 1, 2, 4, 8, 16 s …, capped. */
export const reconnectDelay = (attempt: number, capMs: number) => Math.min(1000 * 2 ** Math.max(0, attempt - 1), capMs)

/**
 * One connection of a pool: an undici Client (one socket, no pipelining) that takes a socket we
 * opened ahead of time when it has one (`ready`), else opens a fresh one through the connector.
 */
class Slot {
  readonly client: Client
  /** A connected socket waiting for the client's first (or next) connect. */
  ready: Socket | null = null
  warming: Promise<void> | null = null
  /** When the socket in use (or ready) was opened; 0 when none. */
  openedAt = 0
  lastActive = Date.now()
  retired = false

  constructor(private readonly pool: OriginPool, readonly warm: boolean) {
    this.client = new Client(pool.origin, {
      connect: (opts, cb) => {
        const taken = this.take()
        // Never call back synchronously: undici's client is still inside its resume loop.
        if (taken) return void process.nextTick(cb, null, taken)
        pool.open().then(({ socket }) => {
          this.openedAt = Date.now()
          cb(null, socket)
        }, err => cb(err as Error, null))
      },
      keepAliveTimeout: pool.opts.idleMs,
      keepAliveMaxTimeout: pool.opts.maxAgeMs,
    })
    this.client.on('disconnect', () => {
      this.openedAt = 0
      pool.emit('disconnected')
      // A warm slot opens its next socket now, so the next request finds one ready.
      if (this.warm && !this.retired) this.refill()
    })
  }

  /** Hand the ready socket to the client (if it is still usable). */
  private take(): Socket | null {
    const s = this.ready
    this.ready = null
    if (!s || s.destroyed || !s.writable) return null
    s.removeAllListeners('close')
    return s
  }

  get busy() {
    return this.client.stats.size > 0
  }

  get open() {
    return this.client.stats.connected || !!this.ready
  }

  /** Open a socket ahead of need (retrying with backoff while the slot is warm). */
  refill(): Promise<void> {
    if (this.warming || this.ready || this.client.stats.connected || this.retired) return this.warming ?? Promise.resolve()
    this.warming = this.pool.openWithBackoff(() => this.retired || this.client.stats.connected).then((opened) => {
      this.warming = null
      if (!opened) return
      if (this.retired || this.client.stats.connected) return void opened.socket.destroy()
      this.adopt(opened.socket)
    })
    return this.warming
  }

  /** Keep a connected socket for the client's next connect. */
  adopt(socket: Socket): void {
    this.ready = socket
    this.openedAt = Date.now()
    socket.on('error', () => {})
    // The server or proxy closed it before any request used it: a warm slot opens another.
    socket.once('close', () => {
      if (this.ready !== socket) return
      this.ready = null
      this.openedAt = 0
      this.pool.emit('disconnected')
      if (this.warm && !this.retired) void this.refill()
    })
  }

  async retire(): Promise<void> {
    this.retired = true
    this.ready?.destroy()
    this.ready = null
    await this.client.close().catch(() => this.client.destroy())
  }
}

/** Counters one origin pool keeps (events and latencies). */
interface Counters { connects: number, connectErrors: number, disconnects: number, reconnects: number, requests: number, requestErrors: number, rotated: number }

/**
 * How an origin's connections speak: HTTP/1.1 slots, HTTP/2 sessions, or not known yet (an https
 * origin offered h2: the first connection's ALPN answer decides, once).
 */
type Mode = 'h1' | 'h2' | 'probe'

/**
 * The connections of one account to one upstream origin: HTTP/1.1 slots (one request per
 * connection at a time), or — when the origin is offered h2 and picks it — an H2Origin.
 */
export class OriginPool {
  readonly slots: Slot[] = []
  mode: Mode
  h2: H2Origin | null = null
  /** Requests that came before the first connection told which protocol the origin speaks. */
  private waiting: { opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler }[] = []
  private probing = false
  /** The warm-up's attempts (with backoff) at the connection that decides the protocol. */
  private probeWarm: Promise<void> | null = null
  private rr = 0
  readonly counters: Counters = { connects: 0, connectErrors: 0, disconnects: 0, reconnects: 0, requests: 0, requestErrors: 0, rotated: 0 }
  readonly handshake = new Latency()
  readonly requestLatency = new Latency()
  lastError: { message: string, at: string } | null = null
  lastConnectOk = true
  /** Consecutive failed connection attempts (drives the backoff). */
  failures = 0
  private readonly target: Target
  closed = false

  /** `offerH2`: offer HTTP/2 by ALPN (https only) and speak it when the upstream picks it. */
  constructor(readonly origin: string, readonly opts: PoolOptions, private readonly connector: Connector, private readonly listener: PoolListener, readonly warmTarget: number, offerH2 = false) {
    const u = new URL(origin)
    this.target = { protocol: u.protocol, hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port }
    this.mode = offerH2 && u.protocol === 'https:' ? 'probe' : 'h1'
    if (this.mode === 'h1') this.addWarmSlots()
  }

  /** The HTTP/1.1 warm slots; `socket` (a connection already open) goes to the first, or to an on-demand slot. */
  private addWarmSlots(socket?: Socket) {
    for (let i = 0; i < this.warmTarget; i++) this.slots.push(new Slot(this, true))
    if (!socket) return
    if (!this.slots.length) this.slots.push(new Slot(this, false))
    this.slots[0]!.adopt(socket)
  }

  /**
   * The first connection of an origin offered h2 is open: its ALPN answer sets the protocol (h2:
   * the connection becomes the first session; else an HTTP/1.1 slot takes it), then the requests
   * that waited for it go out. A connection opened after the choice joins it.
   */
  private decide(socket: Socket) {
    if (this.closed) return void socket.destroy()
    if (this.mode === 'h2') return this.h2!.adopt(socket)
    if (this.mode === 'h1') return void socket.destroy()
    if ((socket as TLSSocket).alpnProtocol === 'h2') {
      this.mode = 'h2'
      this.h2 = new H2Origin(this, socket, this.warmTarget > 0)
    }
    else {
      this.mode = 'h1'
      this.addWarmSlots(socket)
      for (const s of this.slots) if (s.warm) void s.refill()
    }
    for (const w of this.waiting.splice(0)) this.dispatchDecided(w.opts, w.handler, false)
  }

  /** Open the connection that decides the protocol, for requests waiting on it; when it fails, they fail. */
  private probe() {
    if (this.probing) return
    this.probing = true
    this.open(true).then((opened) => {
      this.probing = false
      this.decide(opened.socket)
    }, (err: Error) => {
      this.probing = false
      for (const w of this.waiting.splice(0)) legacyOf(w.handler).onError(err)
    })
  }

  /** An h2 origin answered a new connection in HTTP/1.1: new requests go to HTTP/1.1 slots; the sessions finish their streams. */
  fallBack(socket: Socket): void {
    const h2 = this.h2!
    this.h2 = null
    this.mode = 'h1'
    this.addWarmSlots(socket)
    for (const r of h2.takeQueued()) this.dispatchDecided(r.opts, r.handler, false)
    void h2.close()
  }

  emit(event: PoolEvent, extra: { error?: string, handshakeMs?: number } = {}) {
    if (event === 'disconnected') this.counters.disconnects++
    this.listener(event, { origin: this.origin, ...extra })
  }

  /** Open one connection now (measured; counted; errors recorded and rethrown). */
  async open(offerH2 = false): Promise<{ socket: Socket, ms: number }> {
    const t0 = performance.now()
    try {
      const socket = await this.connector(offerH2 ? { ...this.target, offerH2 } : this.target)
      const ms = performance.now() - t0
      this.handshake.add(ms)
      this.counters.connects++
      if (this.failures > 0) {
        this.counters.reconnects++
        this.emit('reconnected', { handshakeMs: ms })
      }
      else this.emit('connected', { handshakeMs: ms })
      this.failures = 0
      this.lastConnectOk = true
      return { socket, ms }
    }
    catch (err) {
      this.counters.connectErrors++
      this.failures++
      this.lastConnectOk = false
      const message = describeError(err)
      this.lastError = { message, at: new Date().toISOString() }
      this.emit('error', { error: message })
      throw err
    }
  }

  /** Open a connection, retrying after 1, 2, 4 … s while it fails; null once `stop()` says so. */
  async openWithBackoff(stop: () => boolean, offerH2 = false): Promise<{ socket: Socket } | null> {
    while (!this.closed && !stop()) {
      try {
        return await this.open(offerH2)
      }
      catch {
        await sleep(reconnectDelay(this.failures, this.opts.backoffMaxMs))
      }
    }
    return null
  }

  /** Pre-open the warm connections (an origin offered h2: the first one, which decides the protocol; h2 keeps one session). */
  warmUp(): Promise<void> {
    if (this.mode === 'probe') {
      if (!this.warmTarget) return Promise.resolve()
      return this.probeWarm ??= this.openWithBackoff(() => this.mode !== 'probe', true).then((opened) => {
        this.probeWarm = null
        if (opened) this.decide(opened.socket)
      })
    }
    return Promise.all(this.slots.filter(s => s.warm).map(s => s.refill())).then(() => {})
  }

  /** The request goes to the origin's connections; before the protocol is known it waits for the first one. */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.counters.requests++
    if (this.closed && this.mode !== 'h1') {
      legacyOf(handler).onError(new errors.ClientClosedError())
      return false
    }
    if (this.mode !== 'probe') return this.dispatchDecided(opts, handler, true)
    this.waiting.push({ opts, handler: timedUntilConnected(handler, (opts as { waitReport?: WaitReport }).waitReport) })
    this.probe()
    return true
  }

  /** `time`: time the wait for a connection when there is one (false: the handler is timed already). */
  private dispatchDecided(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, time: boolean): boolean {
    if (this.h2) return this.h2.dispatch(opts, time && !this.h2.ready ? timedUntilConnected(handler, (opts as { waitReport?: WaitReport }).waitReport) : handler)
    return this.dispatchH1(opts, handler, time)
  }

  /** Round-robin over free connections; grow on demand up to `max`; else the least busy. */
  private dispatchH1(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, time: boolean): boolean {
    const n = this.slots.length
    let pick: Slot | undefined
    for (let i = 0; i < n; i++) {
      const s = this.slots[(this.rr + i) % n]!
      if (!s.busy && !s.retired) {
        pick = s
        this.rr = (this.rr + i + 1) % n
        break
      }
    }
    if (!pick && n < this.opts.max) {
      pick = new Slot(this, false)
      this.slots.push(pick)
    }
    pick ??= this.slots.reduce((a, b) => (b.client.stats.size < a.client.stats.size ? b : a))
    pick.lastActive = Date.now()
    // Free and connected (or holding a ready socket) starts now; anything else waits: time it.
    if (time && (pick.busy || !pick.open)) handler = timedUntilConnected(handler, (opts as { waitReport?: WaitReport }).waitReport)
    return pick.client.dispatch(opts, handler)
  }

  /**
   * Housekeeping: close on-demand connections idle longer than `idleMs`, replace idle ones older
   * than `maxAgeMs` (never one in use), and top the warm ones back up.
   */
  async maintain(now = Date.now()): Promise<void> {
    if (this.h2) return this.h2.maintain(now)
    if (this.mode === 'probe') return void this.warmUp()
    for (const s of [...this.slots]) {
      if (s.busy || s.retired) continue
      if (!s.warm && now - s.lastActive > this.opts.idleMs) {
        this.remove(s)
      }
      else if (s.openedAt && now - s.openedAt > this.opts.maxAgeMs) {
        this.counters.rotated++
        this.remove(s)
        if (s.warm) {
          const fresh = new Slot(this, true)
          this.slots.push(fresh)
          void fresh.refill()
        }
      }
      else if (s.warm && !s.open) void s.refill()
    }
  }

  private remove(s: Slot) {
    this.slots.splice(this.slots.indexOf(s), 1)
    void s.retire()
  }

  noteRequest(ms: number, ok: boolean) {
    this.requestLatency.add(ms)
    if (!ok) this.counters.requestErrors++
  }

  /**
   * Connections (HTTP/2: sessions) open, busy (carrying a request) and requests waiting for one;
   * `protocol` once known, and with HTTP/2 the streams in flight.
   */
  stats() {
    let size = this.slots.length
    let open = 0
    let busy = 0
    let queued = this.waiting.length
    let streams: number | undefined
    for (const s of this.slots) {
      if (s.open) open++
      if (s.client.stats.running > 0) busy++
      queued += Math.max(0, s.client.stats.size - s.client.stats.running)
    }
    if (this.h2) {
      const h = this.h2.stats()
      size += h.size
      open += h.open
      busy += h.busy
      queued += h.queued
      streams = h.streams
    }
    return {
      origin: this.origin, protocol: this.mode === 'probe' ? null : this.mode === 'h2' ? 'h2' as const : 'http/1.1' as const,
      size, open, idle: open - busy, busy, queued, ...(streams === undefined ? {} : { streams }),
      warmTarget: this.h2 ? Math.min(1, this.warmTarget) : this.warmTarget, healthy: this.healthy, counters: { ...this.counters },
      lastError: this.lastError, handshakeMs: this.handshake.summary(), requestMs: this.requestLatency.summary(),
    }
  }

  /** Serving: the last connection attempt worked, or a connection is open. */
  get healthy() {
    return this.lastConnectOk || this.slots.some(s => s.open) || !!this.h2?.open
  }

  async close(): Promise<void> {
    this.closed = true
    for (const w of this.waiting.splice(0)) legacyOf(w.handler).onError(new errors.ClientClosedError())
    await Promise.all([...this.slots.splice(0).map(s => s.retire()), this.h2?.close()])
  }
}

/**
 * An account's connections: one OriginPool per upstream origin it talks to. The configured API
 * origin is warmed; any other origin (a token endpoint) gets an on-demand pool.
 */
export class AccountPool extends Dispatcher {
  readonly origins = new Map<string, OriginPool>()
  lastCheckAt: string | null = null

  constructor(readonly accountId: string, readonly proxy: string | null, readonly apiOrigin: string, private readonly opts: PoolOptions, private readonly connector: Connector, private readonly listener: PoolListener) {
    super()
    // Only the API origin is offered HTTP/2; token endpoints (other origins) stay on HTTP/1.1.
    this.origins.set(apiOrigin, new OriginPool(apiOrigin, opts, connector, listener, opts.warm, opts.http2 ?? false))
  }

  get api(): OriginPool {
    return this.origins.get(this.apiOrigin)!
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = new URL(String(opts.origin)).origin
    let p = this.origins.get(origin)
    if (!p) {
      p = new OriginPool(origin, this.opts, this.connector, this.listener, 0)
      this.origins.set(origin, p)
    }
    return p.dispatch(opts, handler)
  }

  override async close(): Promise<void> {
    await Promise.all([...this.origins.values()].map(p => p.close()))
    this.origins.clear()
    await this.connector.close()
  }

  override async destroy(): Promise<void> {
    await this.close()
  }
}

/**
 * The handler a waiting request is dispatched with: the same handler (every method bound to it,
 * so its own state stays on it), except that being handed a connection reports the wait. Only
 * requests that wait pay for this object.
 */
function timedUntilConnected(handler: Dispatcher.DispatchHandler, report: WaitReport | undefined): Dispatcher.DispatchHandler {
  const t0 = performance.now()
  const h = handler as unknown as Record<string, unknown>
  const timed: Record<string, unknown> = {}
  for (const name of HANDLER_METHODS) {
    const fn = h[name]
    if (typeof fn === 'function') timed[name] = fn.bind(handler)
  }
  const connected = (start: (...args: unknown[]) => unknown) => (...args: unknown[]) => {
    const ms = performance.now() - t0
    if (report) report.connectionWaitMs += ms
    observeConnectionWait(ms)
    return start(...args)
  }
  // Legacy handlers (undici's own `request`) learn of their connection in onConnect; new-style ones in onRequestStart.
  if (timed.onRequestStart) timed.onRequestStart = connected(timed.onRequestStart as (...args: unknown[]) => unknown)
  else if (timed.onConnect) timed.onConnect = connected(timed.onConnect as (...args: unknown[]) => unknown)
  return timed
}

const HANDLER_METHODS = [
  'onConnect', 'onUpgrade', 'onHeaders', 'onData', 'onComplete', 'onError', 'onResponseStarted', 'onBodySent', 'onRequestSent',
  'onRequestStart', 'onRequestUpgrade', 'onResponseStart', 'onResponseData', 'onResponseEnd', 'onResponseError',
] as const

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms).unref())

/** A short, secret-free description of a connection failure. */
function describeError(err: unknown): string {
  const e = err as { code?: string, message?: string, cause?: { code?: string, message?: string } }
  const text = (e.message || e.cause?.message || 'connection failed').replace(/\/\/[^@\s/]*@/g, '//***@')
  const code = e.code ?? e.cause?.code
  return (code && !text.includes(code) ? `${code}: ${text}` : text).slice(0, 200)
}
