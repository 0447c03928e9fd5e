// Anthropic Messages answers → OpenAI chat completions: a whole message, a stream (translated event
// by event as it arrives, doubling as the usage tap) and an error answer. Upstream answers are
// untrusted: a malformed event is skipped, never thrown.
import { STATUS_CODES } from 'node:http'
import { type AnthropicUsage, applyUsage } from '../anthropic/usage'
import { SseReader } from '../../upstream/sse'
import { emptyUsage, type Usage } from '../../usage/types'
import { chunk, completion, errorBody, type FinishReason, SSE_DONE, sseData, usageChunk } from './chunks'
import type { StreamTranslator, TranslateContext, TranslatedAnswer, TranslatedError } from './types'

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v)
const text = (v: unknown): string => (typeof v === 'string' ? v : '')

/**
 * Anthropic stop reasons → OpenAI finish reasons. `pause_turn` (Claude paused a long server-tool
 * turn for the caller to continue) and `model_context_window_exceeded` end an unfinished answer,
 * which OpenAI calls `length`. A reason this table does not know reads as `stop`.
 */
const FINISH = new Map<unknown, FinishReason>([
  ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'], ['model_context_window_exceeded', 'length'],
  ['pause_turn', 'length'], ['tool_use', 'tool_calls'], ['refusal', 'content_filter'],
])
const finishReason = (stop: unknown): FinishReason => FINISH.get(stop) ?? 'stop'

/** The usage in an Anthropic answer, through the Anthropic adapter's own reading of it. */
function countUsage(into: Usage | null, u: unknown): Usage | null {
  if (!isObject(u)) return into
  const usage = into ?? emptyUsage()
  applyUsage(usage, u as AnthropicUsage)
  return usage
}

/** A non-streamed Anthropic Message → a `chat.completion` (text joined, tool_use → tool_calls, thinking → reasoning_content). */
export function fromClaudeMessage(json: unknown, ctx: TranslateContext): TranslatedAnswer {
  const msg = isObject(json) ? json : {}
  const blocks = Array.isArray(msg.content) ? msg.content.filter(isObject) : []
  const texts = blocks.filter(b => b.type === 'text').map(b => text(b.text))
  const thinking = blocks.filter(b => b.type === 'thinking').map(b => text(b.thinking)).join('')
  const toolCalls = blocks.filter(b => b.type === 'tool_use').map(b => ({
    id: text(b.id), type: 'function', function: { name: text(b.name), arguments: JSON.stringify(isObject(b.input) ? b.input : {}) },
  }))
  const message = {
    role: 'assistant',
    content: texts.length ? texts.join('') : null,
    refusal: null,
    ...(thinking && { reasoning_content: thinking }),
    ...(toolCalls.length && { tool_calls: toolCalls }),
  }
  const usage = countUsage(null, msg.usage)
  return { body: completion(ctx, message, finishReason(msg.stop_reason), usage), usage, model: typeof msg.model === 'string' ? msg.model : null }
}

/**
 * Anthropic error types → OpenAI's type and, where OpenAI's type says less, a code keeping what
 * Anthropic said. The openai SDKs pick their exception class by status; the type is what a
 * client reads next.
 */
const ERROR_TYPE = new Map<unknown, [type: string, code: string | null]>([
  ['invalid_request_error', ['invalid_request_error', null]], ['authentication_error', ['authentication_error', null]],
  ['permission_error', ['permission_error', null]], ['not_found_error', ['not_found_error', null]],
  ['request_too_large', ['invalid_request_error', 'request_too_large']], ['rate_limit_error', ['rate_limit_error', null]],
  ['api_error', ['server_error', null]], ['overloaded_error', ['server_error', 'overloaded']], ['timeout_error', ['server_error', 'timeout']],
])
const STATUS_TYPE: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 429: 'rate_limit_error' }
const typeForStatus = (status: number) => STATUS_TYPE[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error')

/** Upstream messages are kept for the client, within reason. */
const MAX_MESSAGE = 2000
/** Larger error bodies are not parsed (Anthropic's are a few hundred bytes). */
const MAX_ERROR_BODY = 64 * 1024

/** OpenAI's error body for Anthropic's `{type, message}` (or nothing readable) at `status`. */
function openaiError(status: number, err: Json | null) {
  const message = text(err?.message).slice(0, MAX_MESSAGE)
    || `The upstream answered ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''} without a readable error.`
  const [type, code] = ERROR_TYPE.get(err?.type) ?? [typeForStatus(status), null]
  // Clients (Cline, LangChain…) shorten the conversation on OpenAI's code for an overlong prompt.
  const tooLong = type === 'invalid_request_error' && /prompt is too long/i.test(message)
  return errorBody(message, type, null, tooLong ? 'context_length_exceeded' : code)
}

/** An Anthropic error answer (`{type:'error', error:{type, message}}`) → OpenAI's error shape, same status. */
export function claudeErrorToOpenAI(status: number, body: Buffer): TranslatedError {
  let err: Json | null = null
  if (body.length <= MAX_ERROR_BODY) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'))
      if (isObject(parsed) && isObject(parsed.error)) err = parsed.error
    }
    catch { /* not JSON: the generic message for the status */ }
  }
  return { status, body: openaiError(status, err) }
}

/**
 * Anthropic's Messages SSE → OpenAI `chat.completion.chunk` events, one upstream event at a time.
 * Tool calls are numbered 0, 1, … in the order they start (OpenAI's `index`), whatever Anthropic's
 * block indexes are; a call whose input never arrived gets `{}` so clients can parse it.
 */
export class ClaudeToOpenAIStream implements StreamTranslator {
  model: string | null = null
  private counted: Usage | null = null
  private readonly reader = new SseReader(data => this.onEvent(data))
  private done = false
  private started = false
  private finished = false
  /** Anthropic block index → the tool call's OpenAI index, and whether any of its arguments went out. */
  private readonly calls = new Map<number, { index: number, sent: boolean }>()
  private nextCall = 0

  constructor(private readonly ctx: TranslateContext, private readonly write: (text: string) => void) {}

  get usage(): Usage | null {
    return this.counted
  }

  push(chunk: Buffer): void {
    if (!this.done) this.reader.push(chunk)
  }

  end(): void {
    if (this.done) return
    this.reader.end()
    if (this.done) return
    // A stream that closed before Claude said why it stopped was cut short: say so, do not pass it off as complete.
    if (!this.finished) return this.fail('The upstream stream ended before the answer was complete.')
    if (this.ctx.includeUsage) this.write(sseData(usageChunk(this.ctx, this.counted)))
    this.close()
  }

  fail(message: string): void {
    if (this.done) return
    this.write(sseData(errorBody(message, 'server_error')))
    this.close()
  }

  private close(): void {
    this.done = true
    this.write(SSE_DONE)
  }

  /** One delta chunk; the first of the stream carries the role. */
  private send(delta: Json, finish: FinishReason | null = null): void {
    if (!this.started) {
      this.started = true
      delta = { role: 'assistant', ...delta }
    }
    this.write(sseData(chunk(this.ctx, delta, finish)))
  }

  private onEvent(data: string): void {
    if (this.done) return
    let ev: unknown
    try {
      ev = JSON.parse(data)
    }
    catch {
      return
    }
    if (!isObject(ev)) return
    if (ev.type === 'message_start' && isObject(ev.message)) {
      if (typeof ev.message.model === 'string') this.model = ev.message.model
      this.counted = countUsage(this.counted, ev.message.usage)
      if (!this.started) this.send({ content: '' })
    }
    else if (ev.type === 'message_delta') {
      this.counted = countUsage(this.counted, ev.usage)
      const stop = isObject(ev.delta) ? ev.delta.stop_reason : null
      if (stop != null) this.finish(stop)
    }
    // The message is complete even if no stop reason came with it.
    else if (ev.type === 'message_stop') this.finish('end_turn')
    else if (ev.type === 'error') {
      this.write(sseData(openaiError(500, isObject(ev.error) ? ev.error : null)))
      this.close()
    }
    // Content after the finish chunk would follow what clients take as the end: it is not sent.
    else if (!this.finished && typeof ev.index === 'number') this.onBlock(ev.type, ev.index, ev)
    // ping and event types this relay does not know carry nothing to translate.
  }

  /** The finish chunk, once (after `{}` for any call still without arguments: its block never stopped). */
  private finish(stop: unknown): void {
    if (this.finished) return
    for (const [index, call] of this.calls) if (!call.sent) this.arguments(index, '{}')
    this.finished = true
    this.send({}, finishReason(stop))
  }

  private onBlock(type: unknown, index: number, ev: Json): void {
    if (type === 'content_block_start' && isObject(ev.content_block)) {
      const block = ev.content_block
      if (block.type === 'text' && text(block.text)) this.send({ content: block.text })
      else if (block.type === 'thinking' && text(block.thinking)) this.send({ reasoning_content: block.thinking })
      else if (block.type === 'tool_use') {
        const input = isObject(block.input) && Object.keys(block.input).length ? JSON.stringify(block.input) : ''
        const call = { index: this.nextCall++, sent: !!input }
        this.calls.set(index, call)
        this.send({ tool_calls: [{ index: call.index, id: text(block.id), type: 'function', function: { name: text(block.name), arguments: input } }] })
      }
    }
    else if (type === 'content_block_delta' && isObject(ev.delta)) {
      const d = ev.delta
      if (d.type === 'text_delta' && text(d.text)) this.send({ content: d.text })
      else if (d.type === 'thinking_delta' && text(d.thinking)) this.send({ reasoning_content: d.thinking })
      else if (d.type === 'input_json_delta' && text(d.partial_json)) this.arguments(index, d.partial_json as string)
      // signature_delta (thinking's signature) and citations have no OpenAI counterpart.
    }
    else if (type === 'content_block_stop') {
      const call = this.calls.get(index)
      if (call && !call.sent) this.arguments(index, '{}')
    }
  }

  private arguments(index: number, fragment: string): void {
    const call = this.calls.get(index)
    if (!call) return
    call.sent = true
    this.send({ tool_calls: [{ index: call.index, function: { arguments: fragment } }] })
  }
}
