// The pieces of OpenAI's answer shapes both translators build: completion objects, stream chunks,
// usage and the SSE framing.
import type { Usage } from '../../usage/types'
import type { TranslateContext } from './types'

type Json = Record<string, unknown>

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter'

/** One SSE event carrying `payload` as JSON. */
export const sseData = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`

/** The event that ends every stream. */
export const SSE_DONE = 'data: [DONE]\n\n'

/**
 * OpenAI's usage object from the relay's counts: prompt tokens include the cached ones (read and
 * written), as OpenAI counts them; `cached_tokens` is the part read from the cache.
 */
export function openaiUsage(u: Usage): Json {
  const prompt = u.inputTokens + u.cacheRead + u.cacheCreate5m + u.cacheCreate1h
  return {
    prompt_tokens: prompt,
    completion_tokens: u.outputTokens,
    total_tokens: prompt + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cacheRead },
  }
}

/** A `chat.completion.chunk` with one choice (`delta`, and `finish_reason` once it is known). */
export function chunk(ctx: TranslateContext, delta: Json, finishReason: FinishReason | null = null): Json {
  return {
    id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  }
}

/** The usage chunk of `stream_options.include_usage`: empty `choices`, sent before `[DONE]`. */
export function usageChunk(ctx: TranslateContext, usage: Usage | null): Json {
  return {
    id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model,
    choices: [], usage: usage ? openaiUsage(usage) : null,
  }
}

/** A whole `chat.completion` with one choice. */
export function completion(ctx: TranslateContext, message: Json, finishReason: FinishReason | null, usage: Usage | null): Json {
  return {
    id: ctx.id, object: 'chat.completion', created: ctx.created, model: ctx.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
    ...(usage ? { usage: openaiUsage(usage) } : {}),
  }
}

/** OpenAI's error body. */
export function errorBody(message: string, type: string, param: string | null = null, code: string | null = null) {
  return { error: { message, type, param, code } }
}
