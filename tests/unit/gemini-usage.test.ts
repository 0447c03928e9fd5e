import { describe, expect, it } from 'vitest'
import { GeminiUsageTap } from '../../server/protocols/gemini/usage'

type Json = Record<string, unknown>
const chunk = (usage: Json | null, extra: Json = {}) => ({ candidates: [{ content: { parts: [{ text: 'hi' }] } }], ...(usage ? { usageMetadata: usage } : {}), ...extra })
const sse = (...objs: Json[]) => objs.map(o => `data: ${JSON.stringify(o)}\r\n\r\n`).join('')

/** Feed a body to a tap in `pieces` roughly equal chunks (splitting lines and UTF-8 anywhere). */
function tapOf(format: 'sse' | 'json', body: string, pieces = 1, maxJson?: number) {
  const tap = new GeminiUsageTap(format, maxJson)
  const buf = Buffer.from(body)
  const size = Math.ceil(buf.length / pieces)
  for (let i = 0; i < buf.length; i += size) tap.push(buf.subarray(i, i + size))
  tap.end()
  return tap
}

const FULL = { promptTokenCount: 120, cachedContentTokenCount: 100, candidatesTokenCount: 30, thoughtsTokenCount: 12, totalTokenCount: 162 }

describe('GeminiUsageTap: usage read beside the answer', () => {
  it.each([
    ['SSE: the last usageMetadata wins', 'sse', sse(chunk({ promptTokenCount: 120, candidatesTokenCount: 1 }), chunk(FULL, { modelVersion: 'gemini-2.5-pro' })), { inputTokens: 20, cacheRead: 100, outputTokens: 42 }, 'gemini-2.5-pro'],
    ['SSE split into 7 pieces', 'sse', sse(chunk(null), chunk(FULL, { modelVersion: 'gemini-2.5-flash' })), { inputTokens: 20, cacheRead: 100, outputTokens: 42 }, 'gemini-2.5-flash'],
    ['SSE from Code Assist ({response: …})', 'sse', sse({ response: chunk(FULL, { modelVersion: 'gemini-2.5-pro' }) }), { inputTokens: 20, cacheRead: 100, outputTokens: 42 }, 'gemini-2.5-pro'],
    ['SSE with no usage at all', 'sse', sse(chunk(null), chunk(null)), null, null],
    ['SSE with a line that is not JSON', 'sse', `data: {oops\r\n\r\n${sse(chunk({ promptTokenCount: 5, candidatesTokenCount: 2 }))}`, { inputTokens: 5, cacheRead: 0, outputTokens: 2 }, null],
    ['JSON object', 'json', JSON.stringify(chunk({ promptTokenCount: 8, candidatesTokenCount: 3 }, { modelVersion: 'gemini-2.0-flash' })), { inputTokens: 8, cacheRead: 0, outputTokens: 3 }, 'gemini-2.0-flash'],
    ['JSON array stream (streamGenerateContent without alt=sse)', 'json', JSON.stringify([chunk(null), chunk(FULL)]), { inputTokens: 20, cacheRead: 100, outputTokens: 42 }, null],
    ['JSON cut off mid-body', 'json', JSON.stringify(chunk(FULL)).slice(0, 40), null, null],
    ['negative and absurd counts read as 0', 'json', JSON.stringify(chunk({ promptTokenCount: -4, candidatesTokenCount: 1e15, thoughtsTokenCount: 2.5 })), { inputTokens: 0, cacheRead: 0, outputTokens: 0 }, null],
    ['cached above the prompt: input never negative', 'json', JSON.stringify(chunk({ promptTokenCount: 10, cachedContentTokenCount: 50, candidatesTokenCount: 1 })), { inputTokens: 0, cacheRead: 50, outputTokens: 1 }, null],
  ] as const)('%s', (label, format, body, usage, model) => {
    const tap = tapOf(format, body, label.includes('7 pieces') ? 7 : 1)
    if (usage === null) expect(tap.usage).toBeNull()
    else expect(tap.usage).toMatchObject(usage)
    expect(tap.model).toBe(model)
  })

  it('a JSON body over its bound is not buffered past it, and reads as no usage', () => {
    const tap = tapOf('json', JSON.stringify(chunk(FULL, { pad: 'x'.repeat(10_000) })), 4, 1024)
    expect(tap.usage).toBeNull()
  })
})
