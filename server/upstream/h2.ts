import { type ClientHttp2Session, connect } from 'node:http2'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { type Dispatcher, errors } from 'undici'
import { H2Request, type StreamOwner, type StreamSession } from './h2-request'
import type { PoolEvent, PoolOptions } from './pool'

/** Streams one session carries at most, even when the upstream allows more (its SETTINGS_MAX_CONCURRENT_STREAMS). */
export const H2_MAX_STREAMS = 100
/**
 * The session's receive window: HTTP/2's default 64 KiB would let a session's streams together
 * receive only 64 KiB per round trip. Each stream keeps the default 64 KiB window, which bounds
 * what a paused stream (a slow client) holds.
 */
const SESSION_WINDOW = 8 * 1024 * 1024
/** A session whose upstream sends no SETTINGS (its first frame) within this long is given up. */
const SETTINGS_TIMEOUT_MS = 10_000

/** What an H2Origin needs of the OriginPool it serves. */
export interface H2Host {
  readonly origin: string
  readonly opts: PoolOptions
  readonly counters: { rotated: number }
  /** Open one connection (counted, timed, errors recorded); `offerH2`: offer h2 by ALPN. */
  open(offerH2: boolean): Promise<{ socket: Socket }>
  openWithBackoff(stop: () => boolean, offerH2: boolean): Promise<{ socket: Socket } | null>
  emit(event: PoolEvent): void
  /** The upstream answered a new connection in HTTP/1.1: the origin goes back to HTTP/1.1 connections. */
  fallBack(socket: Socket): void
}

/** One HTTP/2 connection: a node:http2 session over a socket the account's connector opened. */
class Session implements StreamSession {
  readonly h2: ClientHttp2Session
  active = 0
  draining = false
  /** The upstream's SETTINGS came: how many streams it allows is known (streams sent before could be refused). */
  settled = false
  lastActive = Date.now()
  readonly openedAt = Date.now()
  private idle: NodeJS.Timeout | null = null

  constructor(socket: Socket, origin: string, owner: H2Origin) {
    this.h2 = connect(origin, { createConnection: () => socket, settings: { enablePush: false } })
    this.h2.once('connect', () => this.h2.setLocalWindowSize(SESSION_WINDOW))
    const silent = setTimeout(() => this.h2.destroy(new Error('the upstream sent no HTTP/2 SETTINGS')), SETTINGS_TIMEOUT_MS).unref()
    this.h2.on('remoteSettings', () => {
      clearTimeout(silent)
      this.settled = true
      owner.drain()
    })
    // node:http2 lets the streams a graceful GOAWAY allows finish, then closes the session.
    this.h2.on('goaway', () => owner.drainingSession(this))
    this.h2.on('close', () => {
      clearTimeout(this.idle ?? undefined)
      owner.closedSession(this)
    })
    // A session error fails its streams (each sees it) and closes the session.
    this.h2.on('error', () => {})
  }

  get capacity() {
    return Math.min(H2_MAX_STREAMS, this.h2.remoteSettings?.maxConcurrentStreams ?? H2_MAX_STREAMS)
  }

  /** Takes new streams: not draining, not closed. */
  get usable() {
    return !this.draining && !this.h2.closed && !this.h2.destroyed
  }

  get free() {
    return this.settled && this.usable && this.active < this.capacity
  }

  /** Call `fn` after `ms` (replacing an earlier call): the session went idle. */
  idleFor(ms: number, fn: () => void) {
    clearTimeout(this.idle ?? undefined)
    this.idle = setTimeout(fn, ms).unref()
  }

  /** No new streams; the open ones finish; then the session closes. */
  retire() {
    this.draining = true
    if (!this.h2.closed) this.h2.close()
  }
}

/**
 * The HTTP/2 connections of one account to one https origin: a few sessions, each carrying up to
 * H2_MAX_STREAMS concurrent streams. Requests fill the first session with room (so a few
 * connections carry many streams) and wait in a queue while sessions are opening; another session
 * opens when the open ones are full, up to POOL_MAX_CONNECTIONS. A session that receives a GOAWAY
 * takes no new streams, its streams finish, and a new one replaces it; a session that breaks fails
 * only its own streams. Speaks undici's dispatcher protocol, so `undici.request` runs on it.
 */
export class H2Origin implements StreamOwner {
  readonly sessions: Session[] = []
  private readonly queue: H2Request[] = []
  private readonly authority: string
  private connecting = 0
  private warming = false
  private closed = false

  /** `first`: the connection that found the upstream speaks h2. `warm`: keep one session open ahead of requests. */
  constructor(private readonly host: H2Host, first: Socket, private readonly warm: boolean) {
    this.authority = new URL(host.origin).host
    this.adopt(first)
  }

  /** A request dispatched now gets a stream at once (no wait to time). */
  get ready(): boolean {
    return this.queue.length === 0 && this.sessions.some(s => s.free)
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const r = new H2Request(this, opts, handler, this.authority)
    if (this.closed) {
      r.fail(new errors.ClientClosedError())
      return false
    }
    this.queue.push(r)
    this.drain()
    return true
  }

  /** Start queued requests on sessions with room, first sessions first; open sessions for the rest. */
  drain(): void {
    while (this.queue.length && !this.closed) {
      const s = this.sessions.find(x => x.free)
      if (!s) break
      this.queue.shift()!.start(s)
    }
    // Sessions connecting or waiting for their SETTINGS will take part of the queue.
    let coming = this.connecting
    for (const s of this.sessions) if (!s.settled && s.usable) coming++
    while (this.queue.length > coming * H2_MAX_STREAMS && this.sessions.length + this.connecting < this.host.opts.max && !this.closed) {
      this.connect()
      coming++
    }
  }

  private connect() {
    this.connecting++
    this.host.open(true).then(({ socket }) => {
      this.connecting--
      this.adopt(socket)
    }, (err: Error) => {
      this.connecting--
      if (this.connecting || this.sessions.some(s => s.usable)) return
      // Nothing else will serve the queue: fail it (the relay fails over), as an HTTP/1.1 request whose connection failed.
      for (const r of this.queue.splice(0)) r.fail(err)
      this.keepWarm(true)
    })
  }

  /** A connected socket: a session when the upstream chose h2 for it, else the origin falls back to HTTP/1.1. */
  adopt(socket: Socket): void {
    if (this.closed) return void socket.destroy()
    if ((socket as TLSSocket).alpnProtocol !== 'h2') return this.host.fallBack(socket)
    this.sessions.push(new Session(socket, this.host.origin, this))
    this.drain()
  }

  /**
   * Keep one usable session open ahead of requests (when the pool keeps warm connections): one
   * attempt now, which requests can wait for; after a failure (`retry`), attempts with backoff.
   */
  private keepWarm(retry = false) {
    if (!this.warm || this.closed || this.warming || this.connecting || this.sessions.some(s => s.usable)) return
    if (!retry) return this.connect()
    this.warming = true
    void this.host.openWithBackoff(() => this.closed || this.sessions.some(s => s.usable), true).then((opened) => {
      this.warming = false
      if (opened) this.adopt(opened.socket)
    })
  }

  drainingSession(s: Session): void {
    s.draining = true
    this.keepWarm()
    this.drain()
  }

  closedSession(s: Session): void {
    const i = this.sessions.indexOf(s)
    if (i < 0) return
    this.sessions.splice(i, 1)
    this.host.emit('disconnected')
    // A session that died before its SETTINGS never served: like a failed connection, when
    // nothing else will serve the queue, fail it.
    if (!s.settled && !this.connecting && !this.sessions.some(x => x.usable)) {
      const err = new errors.SocketError('the upstream closed the HTTP/2 connection before its SETTINGS')
      for (const r of this.queue.splice(0)) r.fail(err)
    }
    this.keepWarm()
    this.drain()
  }

  released(s: StreamSession): void {
    s.active--
    s.lastActive = Date.now()
    if (this.queue.length) this.drain()
    if (s.active === 0) (s as Session).idleFor(this.host.opts.idleMs, () => this.closeIfIdle(s as Session))
  }

  /** An idle session closes after POOL_IDLE_SECONDS, unless it is the warm one (the only usable one of a warm pool). */
  private closeIfIdle(s: Session) {
    if (s.active > 0 || !s.usable) return
    if (!this.warm || this.sessions.some(x => x !== s && x.usable)) s.retire()
  }

  requeue(r: H2Request): void {
    this.queue.unshift(r)
    this.drain()
  }

  dequeue(r: H2Request): void {
    const i = this.queue.indexOf(r)
    if (i >= 0) this.queue.splice(i, 1)
  }

  /** The requests still waiting for a stream (handed to HTTP/1.1 connections on a fallback). */
  takeQueued(): H2Request[] {
    return this.queue.splice(0)
  }

  /**
   * Housekeeping: sessions older than `maxAgeMs` are rotated (no new streams, theirs finish, a new
   * one replaces them), and the warm session is reopened if it is gone. (Idle sessions close on
   * their own timer, also in a pool nobody maintains.)
   */
  maintain(now: number): void {
    for (const s of this.sessions.filter(x => x.usable)) {
      if (now - s.openedAt <= this.host.opts.maxAgeMs) continue
      this.host.counters.rotated++
      s.retire()
    }
    this.keepWarm()
  }

  stats() {
    let busy = 0
    let streams = 0
    for (const s of this.sessions) {
      if (s.active > 0) busy++
      streams += s.active
    }
    return { size: this.sessions.length + this.connecting, open: this.sessions.length, busy, queued: this.queue.length, streams }
  }

  get open(): boolean {
    return this.sessions.length > 0
  }

  /** No new requests; queued ones fail; open streams finish, then the sessions close. */
  async close(): Promise<void> {
    this.closed = true
    for (const r of this.queue.splice(0)) r.fail(new errors.ClientClosedError())
    await Promise.all(this.sessions.map(s => new Promise<void>((resolve) => {
      if (s.h2.destroyed) return resolve()
      s.h2.once('close', () => resolve())
      s.retire()
    })))
  }
}
