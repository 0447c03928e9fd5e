import { SseReader } from '../../upstream/sse'
import { emptyUsage, isTokenCount, type Usage } from '../../usage/types'

type Json = Record<string, unknown>

const n = (v: unknown): number => (isTokenCount(v) ? v : 0)

/**
 * Google's usageMetadata in the relay's terms. `promptTokenCount` includes the cached tokens, so
 * input is the uncached part and the cached part is a cache read (never charged twice); output is
 * candidates plus thinking (`thoughtsTokenCount`).
 */
export function usageFromMetadata(m: Json | undefined): Usage {
  const u = emptyUsage()
  if (!m) return u
  const cached = n(m.cachedContentTokenCount)
  u.inputTokens = Math.max(0, n(m.promptTokenCount) - cached)
  u.cacheRead = cached
  u.outputTokens = n(m.candidatesTokenCount) + n(m.thoughtsTokenCount)
  return u
}

/** The GenerateContentResponse inside a chunk (Code Assist wraps it in `response`). */
export const inner = (o: unknown): Json | null => {
  if (!o || typeof o !== 'object') return null
  const r = (o as Json).response
  return r && typeof r === 'object' ? r as Json : o as Json
}

/**
 * Reads usage beside a Gemini response without holding it up: SSE (`data:` chunks; the last
 * usageMetadata wins — Google sends the full counts on the last chunk), a JSON object, or a JSON
 * array stream (read at the end, bounded). Code Assist's `{response: …}` wrapper is looked through.
 */
export class GeminiUsageTap {
  usage: Usage | null = null
  model: string | null = null
  private readonly sse: SseReader | null
  private body: Buffer[] = []
  private bytes = 0

  constructor(private readonly format: 'sse' | 'json', private readonly maxJsonBytes = 8 * 1024 * 1024) {
    this.sse = format === 'sse' ? new SseReader(p => this.take(p)) : null
  }

  push(chunk: Buffer): void {
    if (this.sse) return this.sse.push(chunk)
    this.bytes += chunk.length
    if (this.bytes <= this.maxJsonBytes) this.body.push(chunk)
  }

  end(): void {
    if (this.sse) return this.sse.end()
    if (this.bytes > this.maxJsonBytes) return
    try {
      const parsed = JSON.parse(Buffer.concat(this.body).toString('utf8')) as unknown
      for (const item of Array.isArray(parsed) ? parsed : [parsed]) this.see(inner(item))
    }
    catch { /* a cut-off body: nothing readable */ }
    this.body = []
  }

  private take(payload: string): void {
    try {
      this.see(inner(JSON.parse(payload)))
    }
    catch { /* not JSON: ignore */ }
  }

  private see(r: Json | null): void {
    if (!r) return
    if (r.usageMetadata && typeof r.usageMetadata === 'object') this.usage = usageFromMetadata(r.usageMetadata as Json)
    if (typeof r.modelVersion === 'string') this.model = r.modelVersion
  }
}
