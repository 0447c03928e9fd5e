import { describe, expect, it } from 'vitest'
import { AnthropicUsageTap } from '../../server/protocols/anthropic/usage'
import { GeminiUsageTap } from '../../server/protocols/gemini/usage'
import { SseReader } from '../../server/upstream/sse'

// Issue 13: hostile upstream streams. The SSE reader both taps use is linear in the bytes, holds
// at most its cap per line, drops (and counts) an oversized event, and never throws on bad bytes.

function read(chunks: (string | Buffer)[], cap?: number) {
  const events: string[] = []
  const r = new SseReader(d => events.push(d), cap)
  let maxHeld = 0
  for (const c of chunks) {
    r.push(typeof c === 'string' ? Buffer.from(c) : c)
    maxHeld = Math.max(maxHeld, r.buffered)
  }
  r.end()
  return { events, oversized: r.oversized, maxHeld }
}

/** `text` cut into pieces of `size` bytes. */
const pieces = (text: string, size: number) => Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size))

describe('SseReader', () => {
  const stream = 'event: a\ndata: {"n":1}\n\n: comment\r\ndata: two\r\ndata: lines\r\n\r\nevent: empty\n\ndata: {"n":3}\n\n'

  it.each([1, 2, 3, 7, 16, 1000])('splits events the same however the bytes come (pieces of %i)', (size) => {
    expect(read(pieces(stream, size)).events).toEqual(['{"n":1}', 'two\nlines', '{"n":3}'])
  })

  it('a 10 MB line is skipped with its event, memory stays under the cap, and the stream goes on', () => {
    const huge = `data: {"type":"content_block_delta","text":"${'x'.repeat(10 * 1024 * 1024)}"}\n\n`
    const { events, oversized, maxHeld } = read(['data: first\n\n', ...pieces(huge, 64 * 1024), 'data: after\n\n'], 1024 * 1024)
    expect(events).toEqual(['first', 'after'])
    expect(oversized).toBe(1)
    expect(maxHeld).toBeLessThanOrEqual(1024 * 1024)
  })

  it('an event whose data lines add up past the cap is dropped too', () => {
    const line = `data: ${'y'.repeat(600)}\n`
    expect(read([line, line, '\n', 'data: ok\n\n'], 1000)).toMatchObject({ events: ['ok'], oversized: 1 })
  })

  it('invalid UTF-8, a cut-off last event and an event without data neither throw nor invent data', () => {
    const bad = Buffer.concat([Buffer.from('data: '), Buffer.from([0xFF, 0xFE, 0xE0]), Buffer.from('\n\nevent: x\n\ndata: cut')])
    const { events } = read([bad])
    expect(events).toEqual(['\uFFFD\uFFFD\uFFFD', 'cut'])
  })
})

describe('usage taps read only plausible numbers', () => {
  const ev = (data: object) => `data: ${JSON.stringify(data)}\n\n`

  it('Anthropic: negative, fractional or absurd counts are ignored; a message_delta before message_start still counts', () => {
    const tap = new AnthropicUsageTap(true)
    for (const c of [
      ev({ type: 'message_delta', usage: { output_tokens: 7 } }),
      ev({ type: 'message_start', message: { model: 'claude-sonnet-4-5', usage: { input_tokens: -5, output_tokens: 1.5, cache_read_input_tokens: 1e12 } } }),
      ev({ type: 'message_delta', usage: { output_tokens: 1e15 } }),
    ]) tap.push(Buffer.from(c))
    tap.end()
    expect(tap.usage).toEqual({ inputTokens: 0, outputTokens: 7, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0 })
  })

  it('Gemini: absurd usageMetadata counts read as 0', () => {
    const tap = new GeminiUsageTap('sse')
    tap.push(Buffer.from(ev({ usageMetadata: { promptTokenCount: 1e15, candidatesTokenCount: 12, thoughtsTokenCount: -3 } })))
    tap.end()
    expect(tap.usage).toMatchObject({ inputTokens: 0, outputTokens: 12 })
  })
})
