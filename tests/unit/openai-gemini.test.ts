import { describe, expect, it } from 'vitest'
import { fromGeminiResponse, GeminiToOpenAIStream, geminiErrorToOpenAI } from '../../server/protocols/openai/from-gemini'
import { toGemini } from '../../server/protocols/openai/to-gemini'
import { type ImageResolver, OpenAIRequestError, type TranslateContext } from '../../server/protocols/openai/types'

type Json = Record<string, unknown>

const PNG = 'iVBORw0KGgo='
/** Takes data: URLs of PNGs only, as a resolver with fetching off would. */
const images: ImageResolver = async (url) => {
  if (url.startsWith('data:image/png;base64,')) return { mediaType: 'image/png', data: url.slice('data:image/png;base64,'.length) }
  throw new OpenAIRequestError('Only data: URLs are allowed here.')
}
const ctx: TranslateContext = { id: 'chatcmpl-abc123', created: 1_700_000_000, model: 'gemini-2.5-pro', includeUsage: true }
const chat = (extra: Json = {}): Json => ({ model: 'gemini-2.5-pro', messages: [{ role: 'user', content: 'hi' }], ...extra })
const translate = async (req: Json, maxTokens: number | null = null) => (await toGemini(req, images, { maxTokens })).body

const call = (id: string, name: string, args: string) => ({ id, type: 'function', function: { name, arguments: args } })
const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } }
const toolTurns = (result: unknown) => [
  { role: 'user', content: 'weather?' },
  { role: 'assistant', content: null, tool_calls: [call('call_1', 'get_weather', '{"city":"Oslo"}'), call('call_2', 'get_time', '')] },
  { role: 'tool', tool_call_id: 'call_1', content: result },
  { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
]

describe('toGemini: accepted requests', () => {
  it.each<[string, Json, Json, number | null]>([
    ['a plain user turn, no config beyond the default length', {}, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { maxOutputTokens: 4096 } }, 4096],
    ['no default length: no maxOutputTokens', {}, { generationConfig: {} }, null],
    ['max_tokens', { max_tokens: 100 }, { generationConfig: { maxOutputTokens: 100 } }, 4096],
    ['max_completion_tokens wins over max_tokens', { max_tokens: 100, max_completion_tokens: 200 }, { generationConfig: { maxOutputTokens: 200 } }, null],
    ['sampling', { temperature: 0.2, top_p: 0.9, seed: 7 }, { generationConfig: { temperature: 0.2, topP: 0.9, seed: 7 } }, null],
    ['zero penalties (client defaults) are left out', { presence_penalty: 0, frequency_penalty: 0 }, { generationConfig: {} }, null],
    ['penalties', { presence_penalty: 0.5, frequency_penalty: -1 }, { generationConfig: { presencePenalty: 0.5, frequencyPenalty: -1 } }, null],
    ['stop as a string', { stop: 'END' }, { generationConfig: { stopSequences: ['END'] } }, null],
    ['stop as an array', { stop: ['a', 'b'] }, { generationConfig: { stopSequences: ['a', 'b'] } }, null],
    ['response_format text', { response_format: { type: 'text' } }, { generationConfig: {} }, null],
    ['response_format json_object', { response_format: { type: 'json_object' } }, { generationConfig: { responseMimeType: 'application/json' } }, null],
    ['response_format json_schema', { response_format: { type: 'json_schema', json_schema: { name: 'x', strict: true, schema: { type: 'object', properties: { a: { anyOf: [{ type: 'string' }, { type: 'null' }] } } } } } },
      { generationConfig: { responseMimeType: 'application/json', responseJsonSchema: { type: 'object', properties: { a: { anyOf: [{ type: 'string' }, { type: 'null' }] } } } } }, null],
    ['reasoning_effort minimal', { reasoning_effort: 'minimal' }, { generationConfig: { thinkingConfig: { thinkingBudget: 512, includeThoughts: true } } }, null],
    ['reasoning_effort low', { reasoning_effort: 'low' }, { generationConfig: { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } } }, null],
    ['reasoning_effort medium', { reasoning_effort: 'medium' }, { generationConfig: { thinkingConfig: { thinkingBudget: 8192, includeThoughts: true } } }, null],
    ['reasoning_effort high', { reasoning_effort: 'high' }, { generationConfig: { thinkingConfig: { thinkingBudget: 24576, includeThoughts: true } } }, null],
    ['reasoning_effort none', { reasoning_effort: 'none' }, { generationConfig: { thinkingConfig: { thinkingBudget: 0 } } }, null],
    ['system and developer messages become systemInstruction',
      { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }, { role: 'developer', content: [{ type: 'text', text: 'no emoji' }] }] },
      { systemInstruction: { parts: [{ text: 'be brief' }, { text: 'no emoji' }] }, contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, null],
    ['consecutive turns of one role are merged, empty texts dropped',
      { messages: [{ role: 'user', content: 'a' }, { role: 'user', content: [{ type: 'text', text: 'b' }, { type: 'text', text: '' }] }, { role: 'assistant', content: 'c' }, { role: 'assistant', content: '' }, { role: 'user', content: 'd' }] },
      { contents: [{ role: 'user', parts: [{ text: 'a' }, { text: 'b' }] }, { role: 'model', parts: [{ text: 'c' }] }, { role: 'user', parts: [{ text: 'd' }] }] }, null],
    ['an image part becomes inlineData',
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'high' } }] }] },
      { contents: [{ role: 'user', parts: [{ text: 'what is this?' }, { inlineData: { mimeType: 'image/png', data: PNG } }] }] }, null],
    ['tools become function declarations with their JSON Schema as is', { tools: [weather] },
      { tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather now', parametersJsonSchema: weather.function.parameters }] }] }, null],
    ['a tool without parameters or description', { tools: [{ type: 'function', function: { name: 'now', strict: true } }] }, { tools: [{ functionDeclarations: [{ name: 'now' }] }] }, null],
    ['tool_choice auto', { tools: [weather], tool_choice: 'auto' }, { toolConfig: { functionCallingConfig: { mode: 'AUTO' } } }, null],
    ['tool_choice none', { tools: [weather], tool_choice: 'none' }, { toolConfig: { functionCallingConfig: { mode: 'NONE' } } }, null],
    ['tool_choice required', { tools: [weather], tool_choice: 'required' }, { toolConfig: { functionCallingConfig: { mode: 'ANY' } } }, null],
    ['tool_choice naming a function', { tools: [weather], tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false },
      { toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } } }, null],
    ['tool calls and their results; a JSON object result as is, text wrapped in {content}', { messages: toolTurns('{"temp":3}') }, {
      contents: [
        { role: 'user', parts: [{ text: 'weather?' }] },
        { role: 'model', parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Oslo' } }, thoughtSignature: 'skip_thought_signature_validator' },
          { functionCall: { name: 'get_time', args: {} } },
        ] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 3 } } }, { functionResponse: { name: 'get_time', response: { content: '12:00' } } }] },
      ],
    }, null],
    ['a JSON result that is not an object is wrapped as the text sent', { messages: toolTurns('[1,2]') }, { contents: [{}, {}, { parts: [{ functionResponse: { response: { content: '[1,2]' } } }, {}] }] }, null],
    ['neutral values and accepted fields pass', { n: 1, logprobs: false, top_logprobs: 0, logit_bias: {}, store: false, service_tier: 'auto', modalities: ['text'],
      user: 'u-1', safety_identifier: 's', prompt_cache_key: 'k', metadata: { a: 'b' }, stream_options: { include_usage: true }, parallel_tool_calls: true }, { contents: [{ role: 'user' }] }, null],
    ['null reads as absent', { temperature: null, tools: null, tool_choice: null, stop: null, n: null, response_format: null, reasoning_effort: null }, { generationConfig: {} }, null],
  ])('%s', async (_label, extra, expected, maxTokens) => {
    const body = await translate(chat(extra), maxTokens)
    expect(body).toMatchObject(expected)
    expect(body).not.toHaveProperty('model')
    expect(JSON.stringify(body)).not.toMatch(/u-1|"user"\s*:\s*"/)
  })

  it.each([[true, true], [false, false], [undefined, false]])('stream %s → stream %s', async (stream, expected) => {
    expect((await toGemini(chat({ stream }), images, { maxTokens: null })).stream).toBe(expected)
  })

  it('only the penalties and seed the client set reach generationConfig', async () => {
    expect(Object.keys((await translate(chat({ temperature: 1 }))).generationConfig as Json)).toEqual(['temperature'])
  })
})

describe('toGemini: refused requests (400 naming the param)', () => {
  const many = (n: number, item: unknown) => Array.from({ length: n }, () => item)
  const img = { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }
  it.each<[string, Json, string]>([
    ['n > 1', chat({ n: 2 }), 'n'],
    ['logprobs', chat({ logprobs: true }), 'logprobs'],
    ['top_logprobs', chat({ top_logprobs: 3 }), 'top_logprobs'],
    ['logit_bias', chat({ logit_bias: { 50256: -100 } }), 'logit_bias'],
    ['store true', chat({ store: true }), 'store'],
    ['audio output', chat({ modalities: ['text', 'audio'] }), 'modalities'],
    ['service_tier flex', chat({ service_tier: 'flex' }), 'service_tier'],
    ['an unknown field', chat({ foo: 1 }), 'foo'],
    ['legacy functions', chat({ functions: [] }), 'functions'],
    ['a prototype name as field', chat({ constructor: 1 }), 'constructor'],
    ['user not a string', chat({ user: 5 }), 'user'],
    ['metadata not strings', chat({ metadata: { a: 1 } }), 'metadata'],
    ['parallel_tool_calls not a boolean', chat({ parallel_tool_calls: 'yes' }), 'parallel_tool_calls'],
    ['model missing', { messages: [{ role: 'user', content: 'hi' }] }, 'model'],
    ['model not a string', chat({ model: 5 }), 'model'],
    ['stream not a boolean', chat({ stream: 'yes' }), 'stream'],
    ['messages missing', { model: 'gemini-2.5-pro' }, 'messages'],
    ['messages empty', chat({ messages: [] }), 'messages'],
    ['messages too many', chat({ messages: many(10_001, { role: 'user', content: 'x' }) }), 'messages'],
    ['only system messages', chat({ messages: [{ role: 'system', content: 'x' }] }), 'messages'],
    ['a message that is not an object', chat({ messages: ['hi'] }), 'messages[0]'],
    ['an unknown role', chat({ messages: [{ role: 'function', content: 'x' }] }), 'messages[0].role'],
    ['a prototype name as role', chat({ messages: [{ role: 'constructor', content: 'x' }] }), 'messages[0].role'],
    ['content not a string or parts', chat({ messages: [{ role: 'user', content: 5 }] }), 'messages[0].content'],
    ['an audio part', chat({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }), 'messages[0].content[0].type'],
    ['an image part in a system message', chat({ messages: [{ role: 'system', content: [img] }, { role: 'user', content: 'x' }] }), 'messages[0].content[0]'],
    ['an image url that is not a string', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 1 } }] }] }), 'messages[0].content[0].image_url.url'],
    ['an image the resolver refuses', chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'http://x/a.png' } }] }] }), 'messages[0].content[1].image_url.url'],
    ['more than 100 images', chat({ messages: [{ role: 'user', content: many(101, img) }] }), 'messages[0].content[100]'],
    ['a message field Gemini cannot take', chat({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y', audio: { id: 'a' } }] }), 'messages[1].audio'],
    ['a tool result for an unknown call', chat({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: 'r' }] }), 'messages[1].tool_call_id'],
    ['tool call arguments that are not JSON', chat({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [call('c', 'f', '{oops')] }] }), 'messages[1].tool_calls[0].function.arguments'],
    ['tool call arguments that are an array', chat({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [call('c', 'f', '[]')] }] }), 'messages[1].tool_calls[0].function.arguments'],
    ['a tool call without an id', chat({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }] }), 'messages[1].tool_calls[0].id'],
    ['temperature above 2', chat({ temperature: 3 }), 'temperature'],
    ['temperature not a number', chat({ temperature: 'hot' }), 'temperature'],
    ['top_p above 1', chat({ top_p: 1.5 }), 'top_p'],
    ['max_tokens 0', chat({ max_tokens: 0 }), 'max_tokens'],
    ['max_completion_tokens fractional', chat({ max_completion_tokens: 1.5 }), 'max_completion_tokens'],
    ['seed fractional', chat({ seed: 0.5 }), 'seed'],
    ['presence_penalty out of range', chat({ presence_penalty: 3 }), 'presence_penalty'],
    ['stop with six sequences', chat({ stop: many(6, 'x') }), 'stop'],
    ['stop with an empty string', chat({ stop: [''] }), 'stop'],
    ['response_format of an unknown type', chat({ response_format: { type: 'xml' } }), 'response_format.type'],
    ['response_format json_schema without an object', chat({ response_format: { type: 'json_schema', json_schema: { schema: 'x' } } }), 'response_format.json_schema'],
    ['reasoning_effort unknown', chat({ reasoning_effort: 'extreme' }), 'reasoning_effort'],
    ['reasoning_effort a prototype name', chat({ reasoning_effort: 'constructor' }), 'reasoning_effort'],
    ['a non-function tool', chat({ tools: [{ type: 'web_search' }] }), 'tools[0]'],
    ['a tool name Gemini refuses', chat({ tools: [{ type: 'function', function: { name: '1abc' } }] }), 'tools[0].function.name'],
    ['two tools of one name', chat({ tools: [weather, weather] }), 'tools[1].function.name'],
    ['tool parameters not an object', chat({ tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }), 'tools[0].function.parameters'],
    ['more than 128 tools', chat({ tools: many(129, weather) }), 'tools'],
    ['tool_choice required without tools', chat({ tool_choice: 'required' }), 'tool_choice'],
    ['tool_choice naming a missing function', chat({ tools: [weather], tool_choice: { type: 'function', function: { name: 'other' } } }), 'tool_choice.function.name'],
    ['tool_choice of an unknown kind', chat({ tools: [weather], tool_choice: 'any' }), 'tool_choice'],
  ])('%s', async (_label, req, param) => {
    const err = await toGemini(req, images, { maxTokens: null }).then(() => null, (e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAIRequestError)
    expect((err as OpenAIRequestError).param).toBe(param)
    expect((err as Error).message.length).toBeGreaterThan(10)
  })
})

const FULL_USAGE = { promptTokenCount: 120, cachedContentTokenCount: 100, candidatesTokenCount: 30, thoughtsTokenCount: 12, totalTokenCount: 162 }
const OPENAI_USAGE = { prompt_tokens: 120, completion_tokens: 42, total_tokens: 162, prompt_tokens_details: { cached_tokens: 100 } }
const answer = (parts: Json[], finishReason: string | undefined = 'STOP', extra: Json = {}): Json => ({ candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}) }], ...extra })

describe('fromGeminiResponse', () => {
  it.each<[string, unknown, Json]>([
    ['text parts joined', answer([{ text: 'Hel' }, { text: 'lo' }]), { content: 'Hello', finish: 'stop' }],
    ['thoughts into reasoning_content', answer([{ text: 'hmm', thought: true }, { text: 'Hi', thoughtSignature: 'c2ln' }]), { content: 'Hi', reasoning: 'hmm', finish: 'stop' }],
    ['function calls: generated ids unique, Gemini\'s id kept', answer([{ functionCall: { name: 'a', args: { x: 1 } } }, { functionCall: { name: 'b', args: {}, id: 'g-7' } }, { functionCall: { name: 'c' } }]),
      { content: null, finish: 'tool_calls', calls: [['call_abc123_0', 'a', '{"x":1}'], ['g-7', 'b', '{}'], ['call_abc123_1', 'c', '{}']] }],
    ['a duplicate Gemini id is replaced', answer([{ functionCall: { name: 'a', id: 'same' } }, { functionCall: { name: 'b', id: 'same' } }]), { finish: 'tool_calls', calls: [['same', 'a', '{}'], ['call_abc123_0', 'b', '{}']] }],
    ['Code Assist\'s wrapper', { response: answer([{ text: 'wrapped' }]), traceId: 't' }, { content: 'wrapped', finish: 'stop' }],
    ['a prompt Gemini blocked', { promptFeedback: { blockReason: 'SAFETY' } }, { content: '', finish: 'content_filter' }],
    ['a candidate without content', { candidates: [{ finishReason: 'OTHER' }] }, { content: null, finish: 'stop' }],
    ['not a response at all', 'oops', { content: null, finish: 'stop' }],
    ['null', null, { content: null, finish: 'stop' }],
    ['junk parts are skipped', answer([1, null, { text: 5 }, { functionCall: { args: {} } }, { text: 'ok' }] as Json[]), { content: 'ok', finish: 'stop' }],
  ])('%s', (_label, json, want) => {
    const { body } = fromGeminiResponse(json, ctx)
    const choice = (body.choices as Json[])[0]!
    const message = choice.message as Json
    expect(body).toMatchObject({ id: 'chatcmpl-abc123', object: 'chat.completion', created: 1_700_000_000, model: 'gemini-2.5-pro' })
    expect(message.role).toBe('assistant')
    if ('content' in want) expect(message.content).toBe(want.content)
    expect(message.reasoning_content).toBe(want.reasoning)
    expect(choice.finish_reason).toBe(want.finish)
    const calls = (message.tool_calls as Json[] | undefined)?.map(c => [c.id, (c.function as Json).name, (c.function as Json).arguments])
    expect(calls).toEqual(want.calls)
    if (calls) expect((message.tool_calls as Json[]).every(c => c.type === 'function')).toBe(true)
  })

  it.each([
    ['STOP', 'stop'], ['MAX_TOKENS', 'length'], ['SAFETY', 'content_filter'], ['RECITATION', 'content_filter'], ['BLOCKLIST', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'], ['SPII', 'content_filter'], ['OTHER', 'stop'], ['MALFORMED_FUNCTION_CALL', 'stop'],
  ])('finishReason %s → %s', (reason, finish) => {
    expect(((fromGeminiResponse(answer([{ text: 'x' }], reason), ctx).body.choices as Json[])[0]!).finish_reason).toBe(finish)
  })

  it('a call cut by MAX_TOKENS is length, not tool_calls', () => {
    expect(((fromGeminiResponse(answer([{ functionCall: { name: 'a' } }], 'MAX_TOKENS'), ctx).body.choices as Json[])[0]!).finish_reason).toBe('length')
  })

  it('usage (cached tokens inside the prompt) and the model Gemini used', () => {
    const got = fromGeminiResponse({ response: answer([{ text: 'x' }], 'STOP', { usageMetadata: FULL_USAGE, modelVersion: 'gemini-2.5-pro-002' }) }, ctx)
    expect(got.usage).toMatchObject({ inputTokens: 20, cacheRead: 100, outputTokens: 42 })
    expect(got.body.usage).toEqual(OPENAI_USAGE)
    expect(got.model).toBe('gemini-2.5-pro-002')
  })

  it('no usageMetadata: no usage, and implausible counts read as 0', () => {
    expect(fromGeminiResponse(answer([{ text: 'x' }]), ctx)).toMatchObject({ usage: null, model: null })
    expect(fromGeminiResponse(answer([{ text: 'x' }], 'STOP', { usageMetadata: { promptTokenCount: -1, candidatesTokenCount: 1e12 } }), ctx).usage).toMatchObject({ inputTokens: 0, outputTokens: 0 })
  })
})

/** Gemini SSE as Google frames it (CRLF), optionally in Code Assist's wrapper. */
const sse = (events: unknown[], wrap = false) => events.map(e => `data: ${typeof e === 'string' ? e : JSON.stringify(wrap ? { response: e, traceId: 'tr' } : e)}\r\n\r\n`).join('')

/** Runs a stream through the translator in the given pieces, then ends (or fails) it; returns the raw output. */
function run(pieces: Buffer[], opts: { includeUsage?: boolean, fail?: string } = {}) {
  let out = ''
  const t = new GeminiToOpenAIStream({ ...ctx, includeUsage: opts.includeUsage ?? true }, s => (out += s))
  for (const p of pieces) t.push(p)
  if (opts.fail) t.fail(opts.fail)
  else t.end()
  return { out, t }
}
const events = (out: string) => out.split('\n\n').filter(Boolean).map(e => e.startsWith('data: ') ? (e === 'data: [DONE]' ? '[DONE]' : JSON.parse(e.slice(6)) as Json) : `bad frame: ${e}`)
const deltas = (out: string) => events(out).filter((e): e is Json => typeof e === 'object' && Array.isArray(e.choices) && e.choices.length > 0).map(e => (e.choices as Json[])[0]!)

const STREAM = [
  answer([{ text: 'Let me think… ✓', thought: true }], undefined, { usageMetadata: { promptTokenCount: 120 }, modelVersion: 'gemini-2.5-pro' }),
  answer([{ text: 'Checking 🌧 now.' }], undefined),
  answer([{ functionCall: { name: 'get_weather', args: { city: 'Zürich' } }, thoughtSignature: 'c2ln' }, { functionCall: { name: 'get_time', args: {}, id: 'g-1' } }], undefined),
  answer([], 'STOP', { usageMetadata: FULL_USAGE, modelVersion: 'gemini-2.5-pro' }),
]

describe('GeminiToOpenAIStream', () => {
  const whole = run([Buffer.from(sse(STREAM))]).out

  it('translates a stream with thoughts, text and two tool calls', () => {
    const all = events(whole)
    expect(all.at(-1)).toBe('[DONE]')
    for (const e of all.slice(0, -1)) expect(e).toMatchObject({ id: 'chatcmpl-abc123', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gemini-2.5-pro' })
    expect(deltas(whole).map(c => [c.delta, c.finish_reason])).toEqual([
      [{ role: 'assistant', content: '' }, null],
      [{ reasoning_content: 'Let me think… ✓' }, null],
      [{ content: 'Checking 🌧 now.' }, null],
      [{ tool_calls: [{ index: 0, id: 'call_abc123_0', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, null],
      [{ tool_calls: [{ index: 0, function: { arguments: '{"city":"Zürich"}' } }] }, null],
      [{ tool_calls: [{ index: 1, id: 'g-1', type: 'function', function: { name: 'get_time', arguments: '' } }] }, null],
      [{ tool_calls: [{ index: 1, function: { arguments: '{}' } }] }, null],
      [{}, 'tool_calls'],
    ])
    expect(all.at(-2)).toMatchObject({ choices: [], usage: OPENAI_USAGE })
  })

  it('gives identical output however the upstream bytes are split (every byte offset, and byte by byte)', () => {
    const bytes = Buffer.from(sse(STREAM))
    for (let i = 1; i < bytes.length; i++) {
      expect(run([bytes.subarray(0, i), bytes.subarray(i)]).out, `split at ${i}`).toBe(whole)
    }
    expect(run([...bytes].map(b => Buffer.from([b]))).out).toBe(whole)
  })

  it('writes each event as it arrives, before the stream ends', () => {
    let out = ''
    const t = new GeminiToOpenAIStream(ctx, s => (out += s))
    t.push(Buffer.from(sse([STREAM[1]])))
    expect(deltas(out).map(c => c.delta)).toEqual([{ role: 'assistant', content: '' }, { content: 'Checking 🌧 now.' }])
    t.push(Buffer.from(sse([STREAM[2]])))
    expect(deltas(out)).toHaveLength(6)
    expect(out).not.toContain('[DONE]')
  })

  it('reads Code Assist\'s wrapped events the same way, and reports usage and model', () => {
    const { out, t } = run([Buffer.from(sse(STREAM, true))])
    expect(out).toBe(whole)
    expect(t.usage).toMatchObject({ inputTokens: 20, cacheRead: 100, outputTokens: 42 })
    expect(t.model).toBe('gemini-2.5-pro')
  })

  it('no usage chunk unless asked', () => {
    const { out } = run([Buffer.from(sse(STREAM))], { includeUsage: false })
    expect(events(out).some(e => typeof e === 'object' && Array.isArray(e.choices) && e.choices.length === 0)).toBe(false)
    expect(events(out).at(-1)).toBe('[DONE]')
  })

  it.each([
    ['STOP', 'stop'], ['MAX_TOKENS', 'length'], ['SAFETY', 'content_filter'], ['RECITATION', 'content_filter'],
    ['BLOCKLIST', 'content_filter'], ['PROHIBITED_CONTENT', 'content_filter'], ['SPII', 'content_filter'], ['OTHER', 'stop'],
  ])('finishReason %s → %s in the final chunk', (reason, finish) => {
    const { out } = run([Buffer.from(sse([answer([{ text: 'a' }], undefined), answer([{ text: 'b' }], reason)]))])
    expect(deltas(out).at(-1)).toMatchObject({ delta: {}, finish_reason: finish })
  })

  it('a blocked prompt ends as content_filter after the role chunk', () => {
    const { out } = run([Buffer.from(sse([{ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: 9 } }]))])
    expect(deltas(out).map(c => [c.delta, c.finish_reason])).toEqual([[{ role: 'assistant', content: '' }, null], [{}, 'content_filter']])
    expect(events(out).at(-2)).toMatchObject({ usage: { prompt_tokens: 9, completion_tokens: 0 } })
  })

  it('an upstream error event mid-stream becomes an OpenAI error event, then [DONE]; nothing after it counts', () => {
    const err = { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } }
    const bytes = Buffer.from(sse([STREAM[1], err, STREAM[2]]))
    let out = ''
    const t = new GeminiToOpenAIStream(ctx, s => (out += s))
    t.push(bytes)
    t.push(Buffer.from(sse([STREAM[1]])))
    t.end()
    t.fail('late')
    const all = events(out)
    expect(all.slice(-2)).toEqual([{ error: { message: err.error.message, type: 'rate_limit_error', param: null, code: 'resource_exhausted' } }, '[DONE]'])
    expect(deltas(out).map(c => c.delta)).toEqual([{ role: 'assistant', content: '' }, { content: 'Checking 🌧 now.' }])
  })

  it('an error in Code Assist\'s wrapper, without a code, is a server error', () => {
    const { out } = run([Buffer.from(sse([{ response: { error: { message: 'boom' } } }]))])
    expect(events(out)).toEqual([{ error: { message: 'boom', type: 'server_error', param: null, code: null } }, '[DONE]'])
  })

  it('a stream cut short: fail() sends an error event and [DONE], then nothing more', () => {
    const bytes = Buffer.from(sse(STREAM))
    let out = ''
    const t = new GeminiToOpenAIStream(ctx, s => (out += s))
    t.push(bytes.subarray(0, bytes.length / 2))
    t.fail('The upstream connection broke.')
    t.push(bytes.subarray(bytes.length / 2))
    t.end()
    t.fail('again')
    const all = events(out)
    expect(all.slice(-2)).toEqual([{ error: { message: 'The upstream connection broke.', type: 'server_error', param: null, code: null } }, '[DONE]'])
    expect(all.filter(e => e === '[DONE]')).toHaveLength(1)
    expect(deltas(out).some(c => c.finish_reason)).toBe(false)
  })

  it('malformed events are skipped without a throw', () => {
    const junk = ['{oops', '42', 'null', '"text"', '[]', JSON.stringify({ candidates: 'x' }), JSON.stringify({ candidates: [{ content: { parts: 'x' } }] }),
      JSON.stringify({ candidates: [{ content: { parts: [null, 7, { functionCall: 'f' }, { text: '' }] } }] }), JSON.stringify({ usageMetadata: 'x', modelVersion: 5 })]
    const { out, t } = run([Buffer.from(sse([...junk, answer([{ text: 'fine' }])]))])
    expect(deltas(out).map(c => [c.delta, c.finish_reason])).toEqual([[{ role: 'assistant', content: '' }, null], [{ content: 'fine' }, null], [{}, 'stop']])
    expect(t.usage).toBeNull()
    expect(events(out).at(-2)).toMatchObject({ choices: [], usage: null })
  })

  it('an empty stream still closes with the role, a final chunk and [DONE]', () => {
    const { out } = run([])
    expect(deltas(out).map(c => [c.delta, c.finish_reason])).toEqual([[{ role: 'assistant', content: '' }, null], [{}, 'stop']])
    expect(events(out).at(-1)).toBe('[DONE]')
  })

  it('an event over the size bound ends the stream with an error instead of being held', () => {
    const big = `data: {"candidates":[{"content":{"parts":[{"text":"${'x'.repeat(17 * 1024 * 1024)}"}]}}]}\r\n\r\n`
    const { out } = run([Buffer.from(big), Buffer.from(sse([answer([{ text: 'after' }])]))])
    expect(events(out)).toEqual([{ error: expect.objectContaining({ type: 'server_error' }) }, '[DONE]'])
  })
})

describe('geminiErrorToOpenAI', () => {
  const google = (code: number, status: string, message = `${status} happened`) => Buffer.from(JSON.stringify({ error: { code, message, status } }))
  it.each<[string, number, Buffer, Json]>([
    ['INVALID_ARGUMENT', 400, google(400, 'INVALID_ARGUMENT'), { type: 'invalid_request_error', code: 'invalid_argument', message: 'INVALID_ARGUMENT happened' }],
    ['FAILED_PRECONDITION', 400, google(400, 'FAILED_PRECONDITION'), { type: 'invalid_request_error', code: 'failed_precondition' }],
    ['UNAUTHENTICATED', 401, google(401, 'UNAUTHENTICATED'), { type: 'authentication_error' }],
    ['PERMISSION_DENIED', 403, google(403, 'PERMISSION_DENIED'), { type: 'permission_error' }],
    ['NOT_FOUND', 404, google(404, 'NOT_FOUND'), { type: 'not_found_error' }],
    ['RESOURCE_EXHAUSTED', 429, google(429, 'RESOURCE_EXHAUSTED'), { type: 'rate_limit_error', code: 'resource_exhausted' }],
    ['INTERNAL', 500, google(500, 'INTERNAL'), { type: 'server_error' }],
    ['UNAVAILABLE', 503, google(503, 'UNAVAILABLE'), { type: 'server_error', code: 'unavailable' }],
    ['the array-wrapped form', 429, Buffer.from(JSON.stringify([{ error: { code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED' } }])), { type: 'rate_limit_error', message: 'slow down' }],
    ['in Code Assist\'s wrapper', 404, Buffer.from(JSON.stringify({ response: { error: { code: 404, message: 'no such model', status: 'NOT_FOUND' } } })), { type: 'not_found_error', message: 'no such model' }],
    ['no status name: typed by HTTP status', 403, Buffer.from('{"error":{"message":"nope"}}'), { type: 'permission_error', code: null, message: 'nope' }],
    ['an unparseable body', 502, Buffer.from('<html>Bad Gateway</html>'), { type: 'server_error', code: null, message: 'The Gemini upstream answered 502 without a readable error.' }],
    ['an empty body', 400, Buffer.alloc(0), { type: 'invalid_request_error', message: 'The Gemini upstream answered 400 without a readable error.' }],
    ['a body over the bound is not parsed', 400, Buffer.from(JSON.stringify({ error: { message: 'x'.repeat(70_000) } })), { message: 'The Gemini upstream answered 400 without a readable error.' }],
  ])('%s', (_label, status, body, want) => {
    const got = geminiErrorToOpenAI(status, body)
    expect(got.status).toBe(status)
    expect(got.body.error).toMatchObject({ param: null, ...want })
  })

  it('a long message is bounded', () => {
    expect(geminiErrorToOpenAI(400, google(400, 'INVALID_ARGUMENT', 'y'.repeat(5000))).body.error.message).toHaveLength(1000)
  })
})
