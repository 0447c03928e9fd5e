// OpenAI's chat-completions protocol as the relay speaks it to clients, and the contract between
// the OpenAI adapter (relay.ts) and its per-platform translators (claude.ts, gemini.ts).
import type { Usage } from '../../usage/types'

type Json = Record<string, unknown>

/** A chat-completions request body as the client sent it (validated by the translators, field by field). */
export type ChatRequest = Json

/** A request the relay refuses before any upstream call: a 400 `invalid_request_error` naming `param`. */
export class OpenAIRequestError extends Error {
  constructor(message: string, readonly param: string | null = null, readonly code: string | null = null) {
    super(message)
  }
}

/** A 400 naming the field at fault (`code` when OpenAI has one for it). */
export const bad = (message: string, param: string, code: string | null = null) => new OpenAIRequestError(message, param, code)

/** A JSON object (not an array, not null). */
export const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v)

/**
 * Bounds on the work one request may ask of a translator (the body's size is bounded before it is
 * parsed): beyond them a request is refused, never cut. 100 images is Anthropic's own limit.
 */
export const REQUEST_LIMITS = { messages: 10_000, parts: 1_000, images: 100, toolCalls: 128, tools: 128 } as const

/** An image as the upstreams take it inline. */
export interface InlineImage {
  mediaType: string
  /** base64, no data: prefix */
  data: string
}

/** Resolves an `image_url` part's URL (data: URL, or http(s) when the relay allows fetching) into inline bytes; throws OpenAIRequestError. */
export type ImageResolver = (url: string) => Promise<InlineImage>

/** What a translator needs besides the request. */
export interface TranslateContext {
  /** `chatcmpl-…`, the same in every chunk of a stream. */
  id: string
  /** Seconds since the epoch, the same in every chunk. */
  created: number
  /** The model as the client named it (echoed back in every answer). */
  model: string
  /** `stream_options.include_usage`: a usage chunk with empty `choices` before `[DONE]`. */
  includeUsage: boolean
}

/** A translated request: the upstream body (the platform's native JSON) and what the pipeline records. */
export interface TranslatedRequest {
  body: Json
  stream: boolean
}

/**
 * Reads an upstream's native stream (its SSE bytes) and writes OpenAI `chat.completion.chunk`
 * events (`data: {...}\n\n`, ending `data: [DONE]\n\n`) through `write`, incrementally: every
 * upstream event is translated as it arrives, nothing is held back beyond an incomplete line.
 * Doubles as the pipeline's usage tap: `usage` is what the upstream reported (null until it did).
 */
export interface StreamTranslator {
  push(chunk: Buffer): void
  /** The upstream ended cleanly: flush, final chunk with finish_reason (if not sent), usage chunk when asked, `[DONE]`. */
  end(): void
  /** The upstream broke mid-stream: an OpenAI-shaped error event (`data: {"error":{...}}`), then `[DONE]`. */
  fail(message: string): void
  readonly usage: Usage | null
  /** The model the upstream said it used (null when it said none). */
  readonly model: string | null
}

/** A non-streamed upstream answer translated into a `chat.completion` object. */
export interface TranslatedAnswer {
  body: Json
  usage: Usage | null
  model: string | null
}

/** An upstream error answer (non-2xx) in OpenAI's error shape: `{ error: { message, type, param, code } }`. */
export interface TranslatedError {
  status: number
  body: { error: { message: string, type: string, param: string | null, code: string | null } }
}
