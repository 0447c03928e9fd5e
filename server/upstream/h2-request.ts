import { type ClientHttp2Session, type ClientHttp2Stream, constants, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2'
import { Readable } from 'node:stream'
import { type Dispatcher, errors, util } from 'undici'

/** undici's default headersTimeout and bodyTimeout. */
const DEFAULT_TIMEOUT_MS = 300_000
/** A request the upstream refused unprocessed (REFUSED_STREAM: past a GOAWAY's last stream) is sent again this many times. */
const RESENDS = 2

/** Headers that describe an HTTP/1.1 connection; HTTP/2 forbids them (RFC 9113 §8.2.2). `host` becomes `:authority`. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host'])

/**
 * A request's headers for HTTP/2: the pseudo-headers first, names lowercase, connection-specific
 * headers dropped (`host` sets `:authority`, `te` only as `trailers`), caller-given pseudo-headers
 * ignored, repeated names kept as lists. Accepts undici's header shapes (object, flat list, pairs).
 */
export function h2RequestHeaders(opts: Pick<Dispatcher.DispatchOptions, 'method' | 'path' | 'headers' | 'query'>, authority: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': opts.method, ':scheme': 'https', ':authority': authority, ':path': withQuery(opts.path, opts.query) }
  for (const [name, value] of headerPairs(opts.headers)) {
    const key = name.toLowerCase()
    if (value === undefined || value === null || key.startsWith(':')) continue
    const v = Array.isArray(value) ? value.map(String) : String(value)
    if (key === 'host') out[':authority'] = Array.isArray(v) ? v[0] : v
    else if (key === 'te') {
      if (String(v).trim().toLowerCase() === 'trailers') out.te = 'trailers'
    }
    else if (!CONNECTION_HEADERS.has(key)) {
      const had = out[key]
      out[key] = had === undefined ? v : [...(Array.isArray(had) ? had : [String(had)]), ...(Array.isArray(v) ? v : [v])]
    }
  }
  return out
}

function* headerPairs(headers: Dispatcher.DispatchOptions['headers']): Iterable<[string, unknown]> {
  if (!headers) return
  if (Array.isArray(headers)) {
    // A flat list [name, value, name, value …] or a list of pairs.
    if (Array.isArray(headers[0])) yield* headers as unknown as [string, unknown][]
    else for (let i = 0; i + 1 < headers.length; i += 2) yield [String(headers[i]), headers[i + 1]]
  }
  else if (Symbol.iterator in headers) yield* headers as Iterable<[string, unknown]>
  else yield* Object.entries(headers)
}

function withQuery(path: string, query: Record<string, unknown> | undefined): string {
  if (!query) return path
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined && one !== null) q.append(k, String(one))
  }
  const s = q.toString()
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path
}

/** Response headers (or trailers) as undici's handlers get them: [name, value, …] as latin1 Buffers, pseudo-headers left out. */
export function rawResponseHeaders(headers: IncomingHttpHeaders): Buffer[] {
  const raw: Buffer[] = []
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) raw.push(Buffer.from(name, 'latin1'), Buffer.from(String(v), 'latin1'))
  }
  return raw
}

type Body = string | Uint8Array | Readable | null

/** The bodies undici's `request` is given by our callers; anything else is refused up front. */
function requestBody(body: Dispatcher.DispatchOptions['body']): Body {
  if (body === undefined || body === null) return null
  if (typeof body === 'string' || body instanceof Uint8Array || body instanceof Readable) return body
  throw new errors.InvalidArgumentError('the HTTP/2 upstream pool sends string, Buffer, Uint8Array or Readable bodies')
}

/** undici's older handler protocol, which its own `request` speaks and this pool drives. */
type LegacyHandler = Required<Pick<Dispatcher.DispatchHandler, 'onError'>> & Pick<Dispatcher.DispatchHandler, 'onConnect' | 'onHeaders' | 'onData' | 'onComplete'>

/**
 * A new-style handler (onRequestStart …) seen through the legacy protocol — what undici's own
 * UnwrapHandler does, which undici does not export.
 */
export function legacyOf(h: Dispatcher.DispatchHandler): LegacyHandler {
  if (!h.onRequestStart) return h as LegacyHandler
  let abort: (err?: Error) => void = () => {}
  let resume: (() => void) | null = null
  const c = {
    aborted: false, paused: false, reason: null as Error | null,
    pause() {
      c.paused = true
    },
    resume() {
      if (!c.paused) return
      c.paused = false
      resume?.()
    },
    abort(reason: Error) {
      if (c.aborted) return
      c.aborted = true
      c.reason = reason
      abort(reason)
    },
  }
  return {
    onConnect(a) {
      abort = a
      h.onRequestStart!(c, {})
    },
    onHeaders(status, raw, r, text) {
      resume = r
      h.onResponseStart?.(c, status, util.parseHeaders(raw), text)
      return !c.paused
    },
    onData(chunk) {
      h.onResponseData?.(c, chunk)
      return !c.paused
    },
    onComplete(trailers) {
      h.onResponseEnd?.(c, util.parseHeaders(trailers ?? []))
    },
    onError(err) {
      h.onResponseError?.(c, err)
    },
  }
}

/** What a request needs of the session it runs on. */
export interface StreamSession { readonly h2: ClientHttp2Session, active: number, lastActive: number, draining: boolean }

/** What a request needs of the pool that runs it. */
export interface StreamOwner {
  /** The stream ended (its session has room again). */
  released(s: StreamSession): void
  /** Send the request again on another session (it was refused unprocessed). */
  requeue(r: H2Request): void
  /** Forget a request waiting to be sent again (it was aborted). */
  dequeue(r: H2Request): void
}

/**
 * One undici dispatch carried by one HTTP/2 stream: headers and body out, the response to the
 * handler with back-pressure both ways (a handler saying "enough" pauses the stream, which stops
 * the upstream by flow control), undici's headers and body timeouts, and an abort that cancels
 * the stream (RST_STREAM CANCEL). A stream that breaks fails only this request.
 */
export class H2Request {
  private readonly h: LegacyHandler
  private readonly headers: OutgoingHttpHeaders
  private readonly body: Body
  private readonly headersTimeout: number
  private readonly bodyTimeout: number
  private stream: ClientHttp2Stream | null = null
  private session: StreamSession | null = null
  private connected = false
  private done = false
  private answered = false
  private paused = false
  private resends = 0
  private timer: NodeJS.Timeout | null = null
  private trailers: IncomingHttpHeaders | null = null
  private streamError: Error | null = null

  constructor(private readonly owner: StreamOwner, readonly opts: Dispatcher.DispatchOptions, readonly handler: Dispatcher.DispatchHandler, authority: string) {
    if (opts.method === 'CONNECT' || opts.upgrade) throw new errors.NotSupportedError('the HTTP/2 upstream pool does not upgrade or tunnel')
    this.headers = h2RequestHeaders(opts, authority)
    this.body = requestBody(opts.body)
    this.headersTimeout = opts.headersTimeout ?? DEFAULT_TIMEOUT_MS
    this.bodyTimeout = opts.bodyTimeout ?? DEFAULT_TIMEOUT_MS
    this.h = legacyOf(handler)
  }

  /** Open the request's stream on a session with room. */
  start(s: StreamSession): void {
    if (this.done) return
    if (!this.connected) {
      this.connected = true
      this.h.onConnect?.(this.abort)
      if (this.done) return // aborted before it was sent
    }
    let stream: ClientHttp2Stream
    try {
      stream = s.h2.request(this.headers, { endStream: this.body === null })
    }
    catch (err) {
      const code = (err as { code?: string }).code
      if (code !== 'ERR_HTTP2_GOAWAY_SESSION' && code !== 'ERR_HTTP2_INVALID_SESSION') return this.fail(err as Error)
      // The session took a GOAWAY or closed in the meantime: another one takes the request.
      s.draining = true
      return this.owner.requeue(this)
    }
    this.stream = stream
    this.session = s
    s.active++
    s.lastActive = Date.now()
    this.arm(this.headersTimeout, () => new errors.HeadersTimeoutError())
    stream.on('response', this.onResponse)
    stream.on('trailers', (t: IncomingHttpHeaders) => {
      this.trailers = t
    })
    stream.on('end', this.onEnd)
    stream.on('error', (err: Error) => {
      this.streamError = err
    })
    stream.on('close', () => this.onClose(stream))
    if (this.body === null) return
    if (this.body instanceof Readable) {
      this.body.on('error', err => this.abort(err))
      this.body.pipe(stream)
    }
    else stream.end(this.body)
  }

  private readonly onResponse = (headers: IncomingHttpHeaders) => {
    if (this.done || !this.stream) return
    this.answered = true
    this.arm(this.bodyTimeout, () => new errors.BodyTimeoutError())
    // Read the body only now: node:http2 can push the first DATA before it emits 'response'
    // (both in one read), and the handler takes data only after its headers.
    this.stream.on('data', this.onData)
    try {
      if (this.h.onHeaders?.(Number(headers[':status']), rawResponseHeaders(headers), this.resume, '') === false) this.pause()
    }
    catch (err) {
      this.abort(err as Error)
    }
  }

  private readonly onData = (chunk: Buffer) => {
    if (this.done) return
    this.timer?.refresh()
    try {
      if (this.h.onData?.(chunk) === false) this.pause()
    }
    catch (err) {
      this.abort(err as Error)
    }
  }

  private readonly onEnd = () => {
    // node:http2 also ends the readable side of a stream its session took down (a connection
    // reset or closed): such a stream is destroyed already, and its 'close' fails the request.
    // A stream that received its END_STREAM ends before it is destroyed.
    if (this.done || !this.stream || this.stream.destroyed || this.stream.rstCode) return
    this.settle()
    this.h.onComplete?.(this.trailers ? rawResponseHeaders(this.trailers) as unknown as string[] : [])
  }

  private onClose(stream: ClientHttp2Stream) {
    if (this.stream === stream && this.session) {
      this.owner.released(this.session)
      this.stream = null
      this.session = null
    }
    if (this.done) return
    this.disarm()
    if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM && !this.answered && !(this.body instanceof Readable) && this.resends < RESENDS) {
      // The upstream did not process it (past a GOAWAY's last stream id): safe to send again.
      this.resends++
      this.streamError = null
      return this.owner.requeue(this)
    }
    const why = this.streamError ? `${(this.streamError as { code?: string }).code ?? this.streamError.message}` : `code ${stream.rstCode ?? 'none'}`
    const err = new errors.SocketError(`HTTP/2 stream closed before the response ended (${why})`)
    if (this.streamError) err.cause = this.streamError
    this.fail(err)
  }

  private pause() {
    if (this.paused || !this.stream) return
    this.paused = true
    this.disarm() // no body timeout while the handler holds the stream back
    this.stream.pause()
  }

  private readonly resume = () => {
    if (!this.paused || this.done) return
    this.paused = false
    this.arm(this.bodyTimeout, () => new errors.BodyTimeoutError())
    this.stream?.resume()
  }

  /** The handler's abort (and the timeouts'): cancel the stream, tell the handler once. */
  readonly abort = (reason?: Error) => {
    if (this.done) return
    this.fail(reason ?? new errors.RequestAbortedError())
    if (this.stream && !this.stream.destroyed) this.stream.close(constants.NGHTTP2_CANCEL)
    else this.owner.dequeue(this)
  }

  /** Fail the request (it never started, or its stream broke). */
  fail(err: Error): void {
    if (this.done) return
    this.settle()
    this.h.onError(err)
  }

  private settle() {
    this.done = true
    this.disarm()
  }

  private arm(ms: number, error: () => Error) {
    this.disarm()
    this.timer = ms > 0 ? setTimeout(() => this.abort(error()), ms).unref() : null
  }

  private disarm() {
    clearTimeout(this.timer ?? undefined)
    this.timer = null
  }
}
