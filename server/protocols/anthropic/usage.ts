import { SseReader } from '../../upstream/sse'
import { emptyUsage, isTokenCount, type Usage } from '../../usage/types'

/** A `usage` object as Anthropic sends it (in a message, message_start or message_delta). */
export interface AnthropicUsage {
  input_tokens?: number | null
  output_tokens?: number | null
  cache_creation_input_tokens?: number | null
  cache_read_input_tokens?: number | null
  cache_creation?: { ephemeral_5m_input_tokens?: number | null, ephemeral_1h_input_tokens?: number | null } | null
}

const n = (v: unknown): number | undefined => (isTokenCount(v) ? v : undefined)

/**
 * Merge an Anthropic `usage` object into ours. Later events carry cumulative counts: input and
 * output keep the largest value seen, cache counts are replaced by a present value. Cache writes
 * without the 5m/1h split count as 5-minute writes.
 */
export function applyUsage(into: Usage, u: AnthropicUsage | null | undefined): void {
  if (!u || typeof u !== 'object') return
  // Input and output counts only grow within a message: the largest seen is the count, whatever
  // order an upstream sends its events in (a message_delta before message_start).
  into.inputTokens = Math.max(n(u.input_tokens) ?? 0, into.inputTokens)
  into.outputTokens = Math.max(n(u.output_tokens) ?? 0, into.outputTokens)
  into.cacheRead = n(u.cache_read_input_tokens) ?? into.cacheRead
  const split = u.cache_creation
  const s5 = n(split?.ephemeral_5m_input_tokens)
  const s1 = n(split?.ephemeral_1h_input_tokens)
  if (s5 !== undefined || s1 !== undefined) {
    into.cacheCreate5m = s5 ?? 0
    into.cacheCreate1h = s1 ?? 0
  }
  else {
    // A later event may repeat the total without the split: keep the split when it agrees.
    const total = n(u.cache_creation_input_tokens)
    if (total !== undefined && total !== into.cacheCreate5m + into.cacheCreate1h) {
      into.cacheCreate5m = total
      into.cacheCreate1h = 0
    }
  }
}

/**
 * Reads usage beside a response without holding it up: feed it every chunk as it passes.
 * For SSE it parses only `message_start` / `message_delta` events, correct however the bytes
 * are split; for JSON it keeps the body (bounded) and reads `usage` at the end.
 */
export class AnthropicUsageTap {
  readonly usage = emptyUsage()
  model: string | null = null
  /** True once the stream's usage-bearing events (or the JSON body) were seen. */
  complete = false
  private readonly reader: SseReader | null
  private json: Buffer[] = []
  private jsonBytes = 0

  constructor(sse: boolean, private readonly maxJsonBytes = 8 * 1024 * 1024) {
    this.reader = sse ? new SseReader(data => this.onEvent(data)) : null
  }

  push(chunk: Buffer): void {
    if (this.reader) return this.reader.push(chunk)
    this.jsonBytes += chunk.length
    if (this.jsonBytes <= this.maxJsonBytes) this.json.push(chunk)
  }

  /** Call when the body ended (or was cut off); parses what is left. */
  end(): void {
    if (this.reader) return this.reader.end()
    if (this.jsonBytes > this.maxJsonBytes) return
    try {
      const body = JSON.parse(Buffer.concat(this.json).toString('utf8'))
      if (typeof body?.model === 'string') this.model = body.model
      applyUsage(this.usage, body?.usage)
      this.complete = body?.usage != null
    }
    catch { /* not JSON (or cut off): nothing to count */ }
    this.json = []
  }

  private onEvent(data: string): void {
    // Cheap filter first: only two event types carry usage; content deltas are never parsed.
    const start = data.includes('"message_start"')
    if (!start && !data.includes('"message_delta"')) return
    let ev: { type?: string, message?: { model?: unknown, usage?: AnthropicUsage }, usage?: AnthropicUsage }
    try {
      ev = JSON.parse(data)
    }
    catch {
      return
    }
    if (ev.type === 'message_start') {
      if (typeof ev.message?.model === 'string') this.model = ev.message.model
      applyUsage(this.usage, ev.message?.usage)
    }
    else if (ev.type === 'message_delta') {
      applyUsage(this.usage, ev.usage)
      this.complete = true
    }
  }
}
