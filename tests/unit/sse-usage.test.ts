import { describe, expect, it } from 'vitest'
import { AnthropicUsageTap, applyUsage } from '../../server/protocols/anthropic/usage'
import { emptyUsage, type Usage } from '../../server/usage/types'
import { defaultBehaviour, jsonMessage, sseEvents, type Behaviour, type UpstreamUsage } from '../fixtures/anthropic-upstream'

// ---------------------------------------------------------------------------------------------
// Building streams

const behaviour = (over: Partial<Behaviour> = {}): Behaviour => ({ ...defaultBehaviour(), ...over })

const WITH_SPLIT: UpstreamUsage = {
  input_tokens: 1234, output_tokens: 567, cache_creation_input_tokens: 300, cache_read_input_tokens: 4000,
  cache_creation: { ephemeral_5m_input_tokens: 120, ephemeral_1h_input_tokens: 180 },
}
const WITHOUT_SPLIT: UpstreamUsage = {
  input_tokens: 88, output_tokens: 99, cache_creation_input_tokens: 700, cache_read_input_tokens: 11,
}

/** What the relay should count for a message whose final usage is `u` (Anthropic's documented semantics). */
function expectedUsage(u: UpstreamUsage): Usage {
  const split = u.cache_creation
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheRead: u.cache_read_input_tokens ?? 0,
    cacheCreate5m: split ? split.ephemeral_5m_input_tokens : (u.cache_creation_input_tokens ?? 0),
    cacheCreate1h: split ? split.ephemeral_1h_input_tokens : 0,
  }
}

/** The data payload of an SSE event string from the fixture. */
function dataOf(event: string): Record<string, unknown> {
  const line = event.split('\n').find(l => l.startsWith('data: '))!
  return JSON.parse(line.slice('data: '.length))
}
const sseEvent = (data: { type: string } & Record<string, unknown>) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`
const typeOf = (event: string) => dataOf(event).type as string

/** Replace the text of the content deltas, in order, keeping everything else as the fixture made it. */
function withDeltaTexts(events: string[], texts: string[]): string[] {
  let i = 0
  return events.map((e) => {
    if (typeOf(e) !== 'content_block_delta') return e
    const d = dataOf(e) as { delta: { text: string } }
    d.delta.text = texts[i++ % texts.length]!
    return sseEvent(d as never)
  })
}

/** Change the usage object of the message_delta event. */
function withDeltaUsage(events: string[], usage: Record<string, unknown>): string[] {
  return events.map((e) => {
    if (typeOf(e) !== 'message_delta') return e
    return sseEvent({ ...dataOf(e), usage } as never)
  })
}

// ---------------------------------------------------------------------------------------------
// Feeding a tap

/** Feed `bytes` to a new SSE tap cut at the given (sorted) byte positions, then end it. */
function tapAt(bytes: Buffer, cuts: number[], sse = true, maxJsonBytes?: number): AnthropicUsageTap {
  const tap = new AnthropicUsageTap(sse, maxJsonBytes)
  let prev = 0
  for (const c of [...cuts, bytes.length]) {
    if (c > prev) tap.push(bytes.subarray(prev, c))
    prev = c
  }
  tap.end()
  return tap
}

/** Deterministic PRNG (mulberry32) so "random" splits are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomCuts(length: number, rand: () => number, maxPiece: number): number[] {
  const cuts: number[] = []
  let at = 0
  while (true) {
    at += 1 + Math.floor(rand() * maxPiece)
    if (at >= length) return cuts
    cuts.push(at)
  }
}

const everyByte = (length: number) => Array.from({ length: length - 1 }, (_, i) => i + 1)

type Splitter = [label: string, cuts: (bytes: Buffer) => number[]]
const SPLITTERS: Splitter[] = [
  ['whole', () => []],
  ['one byte at a time', b => everyByte(b.length)],
  ['random pieces of 1–7 bytes (seed 1)', b => randomCuts(b.length, prng(1), 7)],
  ['random pieces of 1–64 bytes (seed 42)', b => randomCuts(b.length, prng(42), 64)],
  ['random pieces of 1–300 bytes (seed 2024)', b => randomCuts(b.length, prng(2024), 300)],
  ['one chunk per event', (b) => {
    const cuts: number[] = []
    for (let i = b.indexOf('\n\n'); i !== -1; i = b.indexOf('\n\n', i + 1)) cuts.push(i + 2)
    return cuts.filter(c => c < b.length)
  }],
  ['cut just before every newline', (b) => {
    const cuts: number[] = []
    for (let i = 0; i < b.length; i++) if (b[i] === 0x0A && i > 0) cuts.push(i)
    return cuts
  }],
]

// ---------------------------------------------------------------------------------------------

describe('the fixture stream', () => {
  it('has Anthropic\'s event order', () => {
    const b = behaviour({ deltas: 4 })
    expect(sseEvents(b).map(typeOf)).toEqual([
      'message_start', 'content_block_start', 'ping',
      ...Array.from({ length: b.deltas }, () => 'content_block_delta'),
      'content_block_stop', 'message_delta', 'message_stop',
    ])
  })
})

describe('AnthropicUsageTap (SSE)', () => {
  const variants: [string, Behaviour][] = [
    ['default usage', behaviour()],
    ['cache writes with the 5m/1h split', behaviour({ usage: WITH_SPLIT, deltas: 5 })],
    ['cache writes without the split (all 5m)', behaviour({ usage: WITHOUT_SPLIT, deltas: 2, model: 'claude-opus-4-1-20250805' })],
  ]

  describe.each(variants)('%s', (_label, b) => {
    const bytes = Buffer.from(sseEvents(b).join(''))

    it.each(SPLITTERS)('reads the exact usage and model when split %s', (_how, cuts) => {
      const tap = tapAt(bytes, cuts(bytes))
      expect(tap.usage).toEqual(expectedUsage(b.usage))
      expect(tap.model).toBe(b.model)
      expect(tap.complete).toBe(true)
    })
  })

  it('reads the same usage at every single split point of a short stream', () => {
    const b = behaviour({ usage: WITH_SPLIT, deltas: 1 })
    const bytes = Buffer.from(sseEvents(b).join(''))
    const want = expectedUsage(b.usage)
    for (let i = 0; i <= bytes.length; i++) {
      const tap = tapAt(bytes, [i])
      expect(tap.usage, `split at byte ${i}`).toEqual(want)
      expect(tap.model, `split at byte ${i}`).toBe(b.model)
      expect(tap.complete, `split at byte ${i}`).toBe(true)
    }
  })

  it('reads the same usage at every pair of split points around the message_delta event', () => {
    const b = behaviour({ usage: WITHOUT_SPLIT, deltas: 1 })
    const bytes = Buffer.from(sseEvents(b).join(''))
    const at = bytes.indexOf('event: message_delta')
    const end = bytes.indexOf('\n\n', at) + 2
    const want = expectedUsage(b.usage)
    for (let i = at - 2; i <= end; i += 3) {
      for (let j = i + 1; j <= end + 2; j += 2) {
        expect(tapAt(bytes, [i, j]).usage, `splits at ${i} and ${j}`).toEqual(want)
      }
    }
  })

  describe('a delta with multi-byte UTF-8 text', () => {
    const b = behaviour({ usage: WITH_SPLIT, deltas: 3 })
    const events = withDeltaTexts(sseEvents(b), ['日本語 🎉', 'ü', '𝄞 end'])
    const bytes = Buffer.from(events.join(''))
    const multiByteStarts: number[] = []
    for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0xC0) multiByteStarts.push(i)

    it('contains the text and multi-byte characters (sanity)', () => {
      expect(bytes.toString()).toContain('日本語 🎉')
      expect(multiByteStarts.length).toBeGreaterThanOrEqual(6)
    })

    it.each([1, 2, 3])('reads usage when cut %i byte(s) into every multi-byte character', (offset) => {
      for (const start of multiByteStarts) {
        const tap = tapAt(bytes, [start + offset])
        expect(tap.usage, `cut at ${start + offset}`).toEqual(expectedUsage(b.usage))
        expect(tap.model).toBe(b.model)
      }
    })

    it('reads usage fed one byte at a time', () => {
      expect(tapAt(bytes, everyByte(bytes.length)).usage).toEqual(expectedUsage(b.usage))
    })

    it('reads a model name with multi-byte characters split across chunks', () => {
      const m = behaviour({ model: 'modèle-日本-🎉' })
      const mb = Buffer.from(sseEvents(m).join(''))
      const tap = tapAt(mb, everyByte(mb.length))
      expect(tap.model).toBe(m.model)
      expect(tap.usage).toEqual(expectedUsage(m.usage))
    })
  })

  describe.each([
    ['CRLF line endings', (s: string) => s.replace(/\n/g, '\r\n')],
    ['"data:" without a space', (s: string) => s.replace(/^data: /gm, 'data:')],
    ['CRLF and "data:" without a space', (s: string) => s.replace(/^data: /gm, 'data:').replace(/\n/g, '\r\n')],
    ['no "event:" lines', (s: string) => s.replace(/^event: .*\n/gm, '')],
    ['comment lines and unknown fields between lines', (s: string) => s.replace(/^event: /gm, ': keep-alive\nid: 7\nevent: ')],
  ])('%s', (_label, transform) => {
    const b = behaviour({ usage: WITH_SPLIT, deltas: 2 })
    const bytes = Buffer.from(transform(sseEvents(b).join('')))

    it.each(SPLITTERS)('reads the exact usage when split %s', (_how, cuts) => {
      const tap = tapAt(bytes, cuts(bytes))
      expect(tap.usage).toEqual(expectedUsage(b.usage))
      expect(tap.model).toBe(b.model)
      expect(tap.complete).toBe(true)
    })

    it('reads the exact usage at every split point', () => {
      for (let i = 0; i <= bytes.length; i++) expect(tapAt(bytes, [i]).usage, `split at ${i}`).toEqual(expectedUsage(b.usage))
    })
  })

  it('takes output_tokens from message_delta, replacing message_start\'s placeholder', () => {
    const b = behaviour({ usage: { ...WITHOUT_SPLIT, output_tokens: 4321 } })
    const events = sseEvents(b)
    const startUsage = (dataOf(events[0]!).message as { usage: UpstreamUsage }).usage
    expect(startUsage.output_tokens).not.toBe(b.usage.output_tokens)
    const tap = tapAt(Buffer.from(events.join('')), [])
    expect(tap.usage.outputTokens).toBe(b.usage.output_tokens)
  })

  it('keeps the 5m/1h split when a later message_delta repeats cache_creation_input_tokens without it', () => {
    const b = behaviour({ usage: WITH_SPLIT })
    const { cache_creation: _split, ...flat } = WITH_SPLIT
    const events = withDeltaUsage(sseEvents(b), flat)
    expect(events.find(e => typeOf(e) === 'message_delta')).toContain('"cache_creation_input_tokens":300')
    for (const [how, cuts] of SPLITTERS) {
      const bytes = Buffer.from(events.join(''))
      expect(tapAt(bytes, cuts(bytes)).usage, how).toEqual(expectedUsage(WITH_SPLIT))
    }
  })

  it('takes every field from a message_delta that carries full cumulative usage', () => {
    const b = behaviour({ usage: WITH_SPLIT })
    const later: UpstreamUsage = {
      input_tokens: 2000, output_tokens: 900, cache_read_input_tokens: 5000, cache_creation_input_tokens: 400,
      cache_creation: { ephemeral_5m_input_tokens: 150, ephemeral_1h_input_tokens: 250 },
    }
    const tap = tapAt(Buffer.from(withDeltaUsage(sseEvents(b), { ...later }).join('')), [])
    expect(tap.usage).toEqual(expectedUsage(later))
  })

  it('ignores a content delta whose text mentions "message_delta" and "message_start"', () => {
    const b = behaviour({ usage: WITH_SPLIT, deltas: 3 })
    const tricky = [
      'message_delta',
      '"message_delta" {"type":"message_delta","usage":{"output_tokens":999999}}',
      'data: {"type":"message_start","message":{"model":"evil","usage":{"input_tokens":777777}}}\n\n',
    ]
    const bytes = Buffer.from(withDeltaTexts(sseEvents(b), tricky).join(''))
    expect(bytes.toString()).toContain('message_delta')
    for (const [how, cuts] of SPLITTERS) {
      const tap = tapAt(bytes, cuts(bytes))
      expect(tap.usage, how).toEqual(expectedUsage(b.usage))
      expect(tap.model, how).toBe(b.model)
    }
  })

  describe('a stream cut before message_delta', () => {
    const b = behaviour({ usage: WITH_SPLIT, deltas: 3 })
    const events = sseEvents(b)
    const startUsage = (dataOf(events[0]!).message as { usage: UpstreamUsage }).usage
    const cutAt = events.findIndex(e => typeOf(e) === 'message_delta')

    it.each(Array.from({ length: cutAt }, (_, i) => i + 1))('is incomplete after %i event(s), with message_start\'s usage', (count) => {
      const tap = tapAt(Buffer.from(events.slice(0, count).join('')), [])
      expect(tap.complete).toBe(false)
      expect(tap.model).toBe(b.model)
      expect(tap.usage).toEqual(expectedUsage(startUsage))
    })

    it('is incomplete when cut in the middle of the message_delta data line', () => {
      const head = events.slice(0, cutAt).join('')
      const delta = events[cutAt]!
      const partial = delta.slice(0, delta.indexOf('"usage"'))
      const tap = tapAt(Buffer.from(head + partial), [])
      expect(tap.complete).toBe(false)
      expect(tap.usage).toEqual(expectedUsage(startUsage))
    })

    it('is empty and incomplete when nothing arrived', () => {
      const tap = tapAt(Buffer.alloc(0), [])
      expect(tap.complete).toBe(false)
      expect(tap.model).toBeNull()
      expect(tap.usage).toEqual(emptyUsage())
    })
  })

  it('counts a final message_delta that lacks the trailing blank line (stream ended right after it)', () => {
    const b = behaviour({ usage: WITHOUT_SPLIT })
    const events = sseEvents(b)
    const upTo = events.slice(0, events.findIndex(e => typeOf(e) === 'message_delta') + 1).join('').replace(/\n\n$/, '')
    const tap = tapAt(Buffer.from(upTo), [])
    expect(tap.complete).toBe(true)
    expect(tap.usage).toEqual(expectedUsage(b.usage))
  })

  it('skips an event with malformed JSON and still reads the others', () => {
    const b = behaviour({ usage: WITHOUT_SPLIT })
    const broken = 'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":\n\n'
    const events = sseEvents(b)
    const i = events.findIndex(e => typeOf(e) === 'message_delta')
    const bytes = Buffer.from([...events.slice(0, i), broken, ...events.slice(i)].join(''))
    const tap = tapAt(bytes, everyByte(bytes.length))
    expect(tap.usage).toEqual(expectedUsage(b.usage))
    expect(tap.complete).toBe(true)
  })
})

describe('AnthropicUsageTap (JSON)', () => {
  const cases: [string, Behaviour][] = [
    ['default usage', behaviour()],
    ['with the cache split', behaviour({ usage: WITH_SPLIT, model: 'claude-haiku-4-5' })],
    ['without the cache split', behaviour({ usage: WITHOUT_SPLIT })],
  ]

  describe.each(cases)('%s', (_label, b) => {
    const bytes = Buffer.from(jsonMessage(b))
    it.each(SPLITTERS)('reads usage and model from the body split %s', (_how, cuts) => {
      const tap = tapAt(bytes, cuts(bytes), false)
      expect(tap.usage).toEqual(expectedUsage(b.usage))
      expect(tap.model).toBe(b.model)
      expect(tap.complete).toBe(true)
    })
  })

  it('reads a JSON body with multi-byte text split inside a character', () => {
    const b = behaviour({ usage: WITH_SPLIT })
    const body = JSON.parse(jsonMessage(b))
    body.content[0].text = '日本語 🎉'
    const bytes = Buffer.from(JSON.stringify(body))
    const at = bytes.indexOf(Buffer.from('🎉')) + 2
    const tap = tapAt(bytes, [at], false)
    expect(tap.usage).toEqual(expectedUsage(b.usage))
  })

  it.each([
    ['not JSON', 'this is not json'],
    ['truncated JSON', jsonMessage(behaviour()).slice(0, -10)],
    ['empty body', ''],
    ['JSON null', 'null'],
    ['a JSON array', '[1,2,3]'],
  ])('gives zeros for %s', (_label, body) => {
    const tap = tapAt(Buffer.from(body), [], false)
    expect(tap.usage).toEqual(emptyUsage())
    expect(tap.complete).toBe(false)
  })

  it('gives zeros for an error body without usage, but reads nothing wrong', () => {
    const tap = tapAt(Buffer.from(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'x' } })), [], false)
    expect(tap.usage).toEqual(emptyUsage())
    expect(tap.complete).toBe(false)
  })

  it('gives zeros without throwing when the body exceeds maxJsonBytes, and reads it when it fits exactly', () => {
    const b = behaviour({ usage: WITH_SPLIT })
    const bytes = Buffer.from(jsonMessage(b))
    const cuts = randomCuts(bytes.length, prng(7), 20)

    const fits = tapAt(bytes, cuts, false, bytes.length)
    expect(fits.usage).toEqual(expectedUsage(b.usage))

    let over: AnthropicUsageTap | undefined
    expect(() => {
      over = tapAt(bytes, cuts, false, bytes.length - 1)
    }).not.toThrow()
    expect(over!.usage).toEqual(emptyUsage())
    expect(over!.complete).toBe(false)
    expect(over!.model).toBeNull()
  })
})

describe('applyUsage', () => {
  const base = (): Usage => ({ inputTokens: 10, outputTokens: 1, cacheRead: 5, cacheCreate5m: 30, cacheCreate1h: 70 })

  it.each<[string, Parameters<typeof applyUsage>[1], Partial<Usage>]>([
    ['null leaves everything', null, {}],
    ['undefined leaves everything', undefined, {}],
    ['an empty object leaves everything', {}, {}],
    ['output_tokens replaces (cumulative, not added)', { output_tokens: 42 }, { outputTokens: 42 }],
    ['input and cache read replace', { input_tokens: 11, cache_read_input_tokens: 6 }, { inputTokens: 11, cacheRead: 6 }],
    ['null fields are ignored', { input_tokens: null, output_tokens: null }, {}],
    ['negative and non-finite numbers are ignored', { input_tokens: -1, output_tokens: Number.NaN, cache_read_input_tokens: Infinity }, {}],
    ['a total that agrees with the split keeps the split', { cache_creation_input_tokens: 100 }, {}],
    ['a total that disagrees replaces the split as 5m', { cache_creation_input_tokens: 250 }, { cacheCreate5m: 250, cacheCreate1h: 0 }],
    ['a new split replaces the old one', { cache_creation: { ephemeral_5m_input_tokens: 1, ephemeral_1h_input_tokens: 2 } }, { cacheCreate5m: 1, cacheCreate1h: 2 }],
    ['a split with only 1h sets 5m to 0', { cache_creation: { ephemeral_1h_input_tokens: 9 } }, { cacheCreate5m: 0, cacheCreate1h: 9 }],
    ['the split wins over a disagreeing total', { cache_creation_input_tokens: 999, cache_creation: { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 4 } }, { cacheCreate5m: 3, cacheCreate1h: 4 }],
    ['an empty split object falls back to the total', { cache_creation_input_tokens: 12, cache_creation: {} }, { cacheCreate5m: 12, cacheCreate1h: 0 }],
  ])('%s', (_label, input, changes) => {
    const u = base()
    applyUsage(u, input)
    expect(u).toEqual({ ...base(), ...changes })
  })

  it('ignores a non-object usage', () => {
    const u = base()
    applyUsage(u, 'nope' as never)
    expect(u).toEqual(base())
  })
})
