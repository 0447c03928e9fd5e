// Gemini answers (GenerateContentResponse, its SSE stream, Google errors) → OpenAI chat completions.
// Code Assist's wrapper (`{response: …, traceId}`) is looked through everywhere.
import { SseReader } from '../../upstream/sse'
import type { Usage } from '../../usage/types'
import { inner, usageFromMetadata } from '../gemini/usage'
import { chunk, completion, errorBody, type FinishReason, SSE_DONE, sseData, usageChunk } from './chunks'
import type { StreamTranslator, TranslateContext, TranslatedAnswer, TranslatedError } from './types'

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v)

/** Gemini's finish reasons that mean its filters cut or withheld the answer. */
const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT'])
/** The longest upstream message passed on in an error. */
const MAX_MESSAGE = 1000
/** A stream event is parsed whole: one over this is dropped and ends the stream with an error. */
const MAX_EVENT = 16 * 1024 * 1024
const MAX_ERROR_BODY = 64 * 1024
const CALL_ID = /^[\x21-\x7e]{1,128}$/

/** The finish reason of an answer; other Gemini reasons (OTHER, MALFORMED_FUNCTION_CALL, …) have no OpenAI peer and read as stop. */
function finishOf(reason: unknown, hasCalls: boolean, blocked: boolean): FinishReason {
  if (blocked) return 'content_filter'
  if (reason === 'MAX_TOKENS') return 'length'
  if (typeof reason === 'string' && FILTERED.has(reason)) return 'content_filter'
  return hasCalls ? 'tool_calls' : 'stop'
}

/** Tool call ids, unique within one answer: Gemini's own `id` when it sent a usable one, else one derived from the completion id. */
class CallIds {
  private readonly seen = new Set<string>()
  private n = 0
  constructor(private readonly base: string) {}
  next(given: unknown): string {
    let id = typeof given === 'string' && CALL_ID.test(given) && !this.seen.has(given) ? given : ''
    while (!id || this.seen.has(id)) id = `call_${this.base}_${this.n++}`
    this.seen.add(id)
    return id
  }
}
const callIds = (ctx: TranslateContext) => new CallIds(ctx.id.replace(/^chatcmpl-/, ''))

type Piece = { text: string, thought: boolean } | { call: { id: string, name: string, args: string } }

/** What one response holds: its parts (text, thoughts, whole function calls), finish reason, usage, model, and whether the prompt was blocked. */
function read(r: Json, ids: CallIds) {
  const candidate = Array.isArray(r.candidates) && isObject(r.candidates[0]) ? r.candidates[0] : null
  const parts = isObject(candidate?.content) && Array.isArray(candidate.content.parts) ? candidate.content.parts : []
  const pieces: Piece[] = []
  for (const p of parts) {
    if (!isObject(p)) continue
    if (typeof p.text === 'string' && p.text) pieces.push({ text: p.text, thought: p.thought === true })
    const fc = p.functionCall
    if (isObject(fc) && typeof fc.name === 'string') {
      pieces.push({ call: { id: ids.next(fc.id), name: fc.name, args: JSON.stringify(isObject(fc.args) ? fc.args : {}) } })
    }
  }
  return {
    pieces,
    finish: candidate?.finishReason,
    blocked: !candidate && isObject(r.promptFeedback) && typeof r.promptFeedback.blockReason === 'string',
    usage: isObject(r.usageMetadata) ? usageFromMetadata(r.usageMetadata) : null,
    model: typeof r.modelVersion === 'string' && r.modelVersion.length <= 200 ? r.modelVersion : null,
  }
}

const toolCall = (c: { id: string, name: string, args: string }) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } })

/**
 * A GenerateContentResponse (standard, or Code Assist's wrapped one) as a `chat.completion`: text
 * joined into `content`, thoughts into `reasoning_content`, function calls into `tool_calls`. A
 * prompt Gemini blocked (no candidate, `promptFeedback.blockReason`) is an empty `content_filter`
 * answer; a body that is no response at all reads as an empty answer, never a throw.
 */
export function fromGeminiResponse(json: unknown, ctx: TranslateContext): TranslatedAnswer {
  const got = read(inner(json) ?? {}, callIds(ctx))
  let content = ''
  let reasoning = ''
  const calls = []
  for (const p of got.pieces) {
    if ('call' in p) calls.push(toolCall(p.call))
    else if (p.thought) reasoning += p.text
    else content += p.text
  }
  const message: Json = {
    role: 'assistant',
    content: content || (got.blocked ? '' : null),
    ...(reasoning ? { reasoning_content: reasoning } : {}),
    ...(calls.length ? { tool_calls: calls } : {}),
  }
  return { body: completion(ctx, message, finishOf(got.finish, calls.length > 0, got.blocked), got.usage), usage: got.usage, model: got.model }
}

/** Google's error statuses as OpenAI error types. */
const TYPES = new Map(Object.entries({
  INVALID_ARGUMENT: 'invalid_request_error', FAILED_PRECONDITION: 'invalid_request_error', OUT_OF_RANGE: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error', PERMISSION_DENIED: 'permission_error', NOT_FOUND: 'not_found_error',
  RESOURCE_EXHAUSTED: 'rate_limit_error', INTERNAL: 'server_error', UNAVAILABLE: 'server_error', DEADLINE_EXCEEDED: 'server_error',
}))
const BY_HTTP: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 429: 'rate_limit_error' }

/** OpenAI's error object from a Google one (`{code, message, status}`) and the HTTP status. */
function fromGoogle(status: number, e: Json | null) {
  const name = typeof e?.status === 'string' && /^[A-Z_]{1,64}$/.test(e.status) ? e.status : null
  const type = (name && TYPES.get(name)) ?? BY_HTTP[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error')
  const message = typeof e?.message === 'string' && e.message
    ? e.message.slice(0, MAX_MESSAGE)
    : `The Gemini upstream answered ${status} without a readable error.`
  return errorBody(message, type, null, name ? name.toLowerCase() : null)
}

/** The `error` object of `{error}` or Google's array-wrapped `[{error}]`, or null. */
function googleError(body: unknown): Json | null {
  const o = Array.isArray(body) ? body[0] : body
  return isObject(o) && isObject(o.error) ? o.error : null
}

/** An upstream non-2xx answer in OpenAI's error shape, same status, Google's message kept (bounded). */
export function geminiErrorToOpenAI(status: number, body: Buffer): TranslatedError {
  let e: Json | null = null
  if (body.length <= MAX_ERROR_BODY) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'))
      e = googleError(parsed) ?? googleError(inner(parsed))
    }
    catch { /* not JSON: the generic message */ }
  }
  return { status, body: fromGoogle(status, e) }
}

/**
 * Gemini's SSE (`streamGenerateContent?alt=sse`, standard or Code Assist) → OpenAI chunks, event by
 * event: text and thoughts as content / reasoning_content deltas, each function call (Gemini sends it
 * whole) as a first fragment with id and name and a second with its arguments. The finish reason
 * waits for the end (Gemini sends usage with or after it); events that are not JSON are skipped.
 */
export class GeminiToOpenAIStream implements StreamTranslator {
  usage: Usage | null = null
  model: string | null = null
  private readonly reader: SseReader
  private readonly ids: CallIds
  private started = false
  private closed = false
  private calls = 0
  private finish: unknown = undefined
  private blocked = false

  constructor(private readonly ctx: TranslateContext, private readonly write: (text: string) => void) {
    this.ids = callIds(ctx)
    this.reader = new SseReader(p => this.take(p), MAX_EVENT, () => this.error(errorBody('An upstream event was too large to translate.', 'server_error')))
  }

  push(bytes: Buffer): void {
    if (!this.closed) this.reader.push(bytes)
  }

  end(): void {
    if (this.closed) return
    this.reader.end()
    if (this.closed) return
    this.delta({})
    this.write(sseData(chunk(this.ctx, {}, finishOf(this.finish, this.calls > 0, this.blocked))))
    if (this.ctx.includeUsage) this.write(sseData(usageChunk(this.ctx, this.usage)))
    this.close()
  }

  fail(message: string): void {
    if (!this.closed) this.error(errorBody(message, 'server_error'))
  }

  private take(payload: string): void {
    if (this.closed) return
    let o: unknown
    try {
      o = JSON.parse(payload)
    }
    catch {
      return
    }
    const e = googleError(o) ?? googleError(inner(o))
    if (e) return this.error(fromGoogle(typeof e.code === 'number' && e.code >= 400 && e.code < 600 ? e.code : 500, e))
    const r = inner(o)
    if (!r) return
    const got = read(r, this.ids)
    if (got.usage) this.usage = got.usage
    if (got.model) this.model = got.model
    if (got.blocked) this.blocked = true
    if (typeof got.finish === 'string') this.finish = got.finish
    for (const p of got.pieces) {
      if (!('call' in p)) {
        this.delta(p.thought ? { reasoning_content: p.text } : { content: p.text })
        continue
      }
      const index = this.calls++
      this.delta({ tool_calls: [{ index, id: p.call.id, type: 'function', function: { name: p.call.name, arguments: '' } }] })
      this.delta({ tool_calls: [{ index, function: { arguments: p.call.args } }] })
    }
  }

  /** A delta chunk; the first delta of the stream is preceded by the role chunk. An empty delta only sends the role chunk. */
  private delta(d: Json): void {
    if (!this.started) {
      this.started = true
      this.write(sseData(chunk(this.ctx, { role: 'assistant', content: '' })))
    }
    if (Object.keys(d).length) this.write(sseData(chunk(this.ctx, d)))
  }

  private error(body: Json): void {
    this.write(sseData(body))
    this.close()
  }

  private close(): void {
    this.closed = true
    this.write(SSE_DONE)
  }
}
