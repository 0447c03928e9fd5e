import { describe, expect, it } from 'vitest'
import { ClaudeToOpenAIStream, claudeErrorToOpenAI, fromClaudeMessage } from '../../server/protocols/openai/from-claude'
import { toClaude } from '../../server/protocols/openai/to-claude'
import { type ImageResolver, OpenAIRequestError, type TranslateContext } from '../../server/protocols/openai/types'

type Json = Record<string, unknown>

// ---------------------------------------------------------------------------------------------
// Requests

const HI = { role: 'user', content: 'hi' }
const BASE = { model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }
const WEATHER = { type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }
const CLAUDE_WEATHER = { name: 'get_weather', description: 'Weather now', input_schema: WEATHER.function.parameters }

/** A resolver that records what it was asked; `bmp…` URLs resolve to a type Claude does not read. */
function recordingResolver() {
  const asked: string[] = []
  const resolve: ImageResolver = async (url) => {
    asked.push(url)
    if (url === 'unreachable') throw new OpenAIRequestError('The image could not be fetched.', null, 'image_fetch_failed')
    return { mediaType: url.startsWith('bmp') ? 'image/bmp' : 'image/png', data: Buffer.from(url).toString('base64') }
  }
  return { asked, resolve }
}

const translate = (over: Json, resolve = recordingResolver().resolve) =>
  toClaude({ model: 'claude-sonnet-4-5', messages: [HI], ...over }, resolve, { maxTokens: 4096 })

/** The OpenAIRequestError a request is refused with (fails the test if it is accepted). */
async function refusal(over: Json, resolve?: ImageResolver): Promise<OpenAIRequestError> {
  const err = await translate(over, resolve).then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(OpenAIRequestError)
  return err as OpenAIRequestError
}

describe('toClaude: accepted fields', () => {
  it.each<[string, Json, Json]>([
    ['a plain request', {}, {}],
    ['max_tokens', { max_tokens: 100 }, { max_tokens: 100 }],
    ['max_completion_tokens over max_tokens', { max_tokens: 100, max_completion_tokens: 200 }, { max_tokens: 200 }],
    ['temperature', { temperature: 0.3 }, { temperature: 0.3 }],
    ['top_p', { top_p: 0.5 }, { top_p: 0.5 }],
    ['top_p 1 (the default) is not sent', { top_p: 1, temperature: 0.7 }, { temperature: 0.7 }],
    ['stop as a string', { stop: 'END' }, { stop_sequences: ['END'] }],
    ['stop as an array', { stop: ['a', 'b'] }, { stop_sequences: ['a', 'b'] }],
    ['stream', { stream: true, stream_options: { include_usage: true } }, { stream: true }],
    ['stream false', { stream: false }, {}],
    ['user', { user: 'user-42' }, { metadata: { user_id: 'user-42' } }],
    ['neutral values clients send by default', {
      n: 1, presence_penalty: 0, frequency_penalty: 0, logprobs: false, top_logprobs: 0, logit_bias: {}, store: false,
      seed: null, metadata: { app: 'x' }, stream_options: null, user: '',
    }, {}],
    ['reasoning_effort none', { reasoning_effort: 'none' }, {}],
    ['reasoning_effort without a limit: the budget on top of the default', { reasoning_effort: 'low' }, { max_tokens: 4096 + 2048, thinking: { type: 'enabled', budget_tokens: 2048 } }],
    ['reasoning_effort minimal', { reasoning_effort: 'minimal' }, { max_tokens: 4096 + 1024, thinking: { type: 'enabled', budget_tokens: 1024 } }],
    ['reasoning_effort within a large limit', { reasoning_effort: 'medium', max_tokens: 20000 }, { max_tokens: 20000, thinking: { type: 'enabled', budget_tokens: 8192 } }],
    ['reasoning_effort under a small limit: the budget shrinks', { reasoning_effort: 'high', max_completion_tokens: 8000 }, { max_tokens: 8000, thinking: { type: 'enabled', budget_tokens: 7999 } }],
    ['reasoning_effort with temperature 1 and top_p 0.97', { reasoning_effort: 'high', temperature: 1, top_p: 0.97 }, { max_tokens: 4096 + 16384, thinking: { type: 'enabled', budget_tokens: 16384 }, temperature: 1, top_p: 0.97 }],
    ['tools', { tools: [WEATHER] }, { tools: [CLAUDE_WEATHER] }],
    ['a tool without parameters or description, strict', { tools: [{ type: 'function', function: { name: 'now', strict: true } }] }, { tools: [{ name: 'now', input_schema: { type: 'object', properties: {} }, strict: true }] }],
    ['tool_choice auto', { tools: [WEATHER], tool_choice: 'auto' }, { tools: [CLAUDE_WEATHER], tool_choice: { type: 'auto' } }],
    ['tool_choice none', { tools: [WEATHER], tool_choice: 'none' }, { tools: [CLAUDE_WEATHER], tool_choice: { type: 'none' } }],
    ['tool_choice required', { tools: [WEATHER], tool_choice: 'required' }, { tools: [CLAUDE_WEATHER], tool_choice: { type: 'any' } }],
    ['tool_choice naming a function', { tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'get_weather' } } }, { tools: [CLAUDE_WEATHER], tool_choice: { type: 'tool', name: 'get_weather' } }],
    ['parallel_tool_calls false', { tools: [WEATHER], parallel_tool_calls: false }, { tools: [CLAUDE_WEATHER], tool_choice: { type: 'auto', disable_parallel_tool_use: true } }],
    ['parallel_tool_calls false with required', { tools: [WEATHER], tool_choice: 'required', parallel_tool_calls: false }, { tools: [CLAUDE_WEATHER], tool_choice: { type: 'any', disable_parallel_tool_use: true } }],
    ['parallel_tool_calls false with none', { tools: [WEATHER], tool_choice: 'none', parallel_tool_calls: false }, { tools: [CLAUDE_WEATHER], tool_choice: { type: 'none' } }],
    ['parallel_tool_calls true', { tools: [WEATHER], parallel_tool_calls: true }, { tools: [CLAUDE_WEATHER] }],
    ['tool_choice auto/none without tools mean nothing', { tool_choice: 'none', parallel_tool_calls: false, tools: [] }, {}],
    ['reasoning_effort with tool_choice auto', { tools: [WEATHER], tool_choice: 'auto', reasoning_effort: 'minimal' }, { tools: [CLAUDE_WEATHER], tool_choice: { type: 'auto' }, max_tokens: 4096 + 1024, thinking: { type: 'enabled', budget_tokens: 1024 } }],
    ['reasoning_effort on a request answering tool calls: no thinking (Claude would want its signed thinking back)', {
      reasoning_effort: 'high', messages: [HI, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'now', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: '12:00' }],
    }, { messages: [BASE.messages[0], { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'now', input: {} }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: '12:00' }] }] }],
    ['reasoning_effort on the next user turn after a tool round thinks again', {
      reasoning_effort: 'minimal', messages: [HI, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'now', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: '12:00' }, { role: 'assistant', content: 'Noon.' }, { role: 'user', content: 'hi' }],
    }, {
      max_tokens: 4096 + 1024, thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [BASE.messages[0], { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'now', input: {} }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: '12:00' }] }, { role: 'assistant', content: [{ type: 'text', text: 'Noon.' }] }, BASE.messages[0]],
    }],
    ['response_format text', { response_format: { type: 'text' } }, {}],
    ['response_format json_object: an instruction', { response_format: { type: 'json_object' } }, { system: expect.stringContaining('one valid JSON object') }],
    ['response_format json_object after the client\'s system prompt', { messages: [{ role: 'system', content: 'S' }, HI], response_format: { type: 'json_object' } },
      { system: [{ type: 'text', text: 'S' }, { type: 'text', text: expect.stringContaining('one valid JSON object') }] }],
    ['response_format json_schema: structured outputs', { response_format: { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object' } } } }, { output_config: { format: { type: 'json_schema', schema: { type: 'object' } } } }],
  ])('%s', async (_name, over, expected) => {
    const out = await translate(over)
    expect(out.body).toEqual({ ...BASE, ...expected })
    expect(out.stream).toBe(over.stream === true)
  })
})

describe('toClaude: messages', () => {
  const call = (id: string, name: string, args: string) => ({ id, type: 'function', function: { name, arguments: args } })
  const text = (t: string) => ({ type: 'text', text: t })
  it.each<[string, Json[], Json]>([
    ['consecutive user messages merge into one turn', [HI, { role: 'user', content: [text('a'), text('')] }],
      { messages: [{ role: 'user', content: [text('hi'), text('a')] }] }],
    ['one system message → a string', [{ role: 'system', content: 'Be brief.' }, HI], { system: 'Be brief.' }],
    ['system and developer messages, wherever they are → text blocks in order', [{ role: 'system', content: [text('A')] }, HI, { role: 'developer', content: 'B' }],
      { system: [text('A'), text('B')] }],
    ['a tool round: tool_use with parsed input, tool results in one user turn with the next user message', [
      HI,
      { role: 'assistant', content: null, tool_calls: [call('call_1', 'get_weather', '{"city":"Oslo"}'), call('call_2', 'now', '')] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'call_2', content: [text('12:00')] },
      { role: 'user', content: 'thanks' },
    ], { messages: [
      { role: 'user', content: [text('hi')] },
      { role: 'assistant', content: [
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oslo' } },
        { type: 'tool_use', id: 'call_2', name: 'now', input: {} },
      ] },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' },
        { type: 'tool_result', tool_use_id: 'call_2', content: [text('12:00')] },
        text('thanks'),
      ] },
    ] }],
    ['assistant text and refusal parts, and the refusal field, read as text', [HI,
      { role: 'assistant', content: [text('a'), { type: 'refusal', refusal: 'no' }], refusal: 'still no', tool_calls: null }, { role: 'user', content: 'b' }],
    { messages: [{ role: 'user', content: [text('hi')] }, { role: 'assistant', content: [text('a'), text('no'), text('still no')] }, { role: 'user', content: [text('b')] }] }],
    ['an empty assistant message says nothing: the user turns around it merge', [HI, { role: 'assistant', content: '' }, { role: 'user', content: 'b' }],
      { messages: [{ role: 'user', content: [text('hi'), text('b')] }] }],
  ])('%s', async (_name, messages, expected) => {
    const out = await translate({ messages })
    expect(out.body).toEqual({ ...BASE, ...expected })
  })
})

describe('toClaude: images', () => {
  const image = (url: string) => ({ type: 'image_url', image_url: { url, detail: 'high' } })
  const png = (url: string) => ({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: Buffer.from(url).toString('base64') } })

  it('resolves every image part, in place, through the injected resolver', async () => {
    const { asked, resolve } = recordingResolver()
    const out = await translate({ messages: [
      { role: 'user', content: [{ type: 'text', text: 'compare' }, image('data:one'), image('https://x/two.png')] },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: [image('data:three')] },
    ] }, resolve)
    expect(asked).toEqual(['data:one', 'https://x/two.png', 'data:three'])
    expect(out.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'compare' }, png('data:one'), png('https://x/two.png')] },
      { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
      { role: 'user', content: [png('data:three')] },
    ])
  })

  // Validation comes first: nothing is fetched for a request refused for its shape.
  it.each<[string, Json, string, string[]]>([
    ['a type Claude does not read', { messages: [{ role: 'user', content: [image('bmp:1')] }] }, 'messages[0].content[0].image_url', ['bmp:1']],
    ['more than 100 images', { messages: [{ role: 'user', content: Array.from({ length: 101 }, (_, i) => image(`data:${i}`)) }] }, 'messages[0].content[100].image_url', []],
    ['an image in a request that is malformed further on', { messages: [{ role: 'user', content: [image('data:1')] }, { role: 'user', content: 5 }] }, 'messages[1].content', []],
    ['an image in a request with a field refused after the messages', { messages: [{ role: 'user', content: [image('data:1')] }], temperature: 7 }, 'temperature', []],
    ['an image in a system message', { messages: [{ role: 'system', content: [image('data:1')] }, HI] }, 'messages[0].content[0].type', []],
    ['an image part without a url', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages[0].content[0].image_url.url', []],
    ['an unknown detail', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:1', detail: 'max' } }] }] }, 'messages[0].content[0].image_url.detail', []],
  ])('refuses %s', async (_name, over, param, fetched) => {
    const { asked, resolve } = recordingResolver()
    const err = await refusal(over, resolve)
    expect(err.param).toBe(param)
    expect(asked).toEqual(fetched)
  })

  it('passes the resolver\'s own refusal on', async () => {
    const err = await refusal({ messages: [{ role: 'user', content: [image('unreachable')] }] })
    expect(err.code).toBe('image_fetch_failed')
  })
})

describe('toClaude: refused', () => {
  const user = (content: unknown) => [{ role: 'user', content }]
  const assistantCall = (args: unknown, extra: Json = {}) => [HI, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }], ...extra }]
  it.each<[string, Json, string, (string | null)?]>([
    ['no model', { model: undefined }, 'model'],
    ['a numeric model', { model: 5 }, 'model'],
    ['no messages', { messages: undefined }, 'messages'],
    ['empty messages', { messages: [] }, 'messages'],
    ['only system messages', { messages: [{ role: 'system', content: 'x' }] }, 'messages'],
    ['a message that is not an object', { messages: ['hi'] }, 'messages[0]'],
    ['the legacy function role', { messages: [HI, { role: 'function', name: 'f', content: 'x' }] }, 'messages[1].role'],
    ['an unknown role', { messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
    ['a role named like an Object key', { messages: [{ role: 'constructor', content: 'x' }] }, 'messages[0].role'],
    ['a participant name', { messages: [{ role: 'user', content: 'x', name: 'ann' }] }, 'messages[0].name', 'unsupported_parameter'],
    ['a legacy function_call on an assistant message', { messages: [HI, { role: 'assistant', content: 'x', function_call: { name: 'f' } }] }, 'messages[1].function_call', 'unsupported_parameter'],
    ['tool_calls on a user message', { messages: [{ role: 'user', content: 'x', tool_calls: [] }] }, 'messages[0].tool_calls', 'unsupported_parameter'],
    ['null user content', { messages: user(null) }, 'messages[0].content'],
    ['empty user content', { messages: user('') }, 'messages[0].content'],
    ['an audio part', { messages: user([{ type: 'input_audio', input_audio: {} }]) }, 'messages[0].content[0].type', 'unsupported_value'],
    ['a part that is not an object', { messages: user(['x']) }, 'messages[0].content[0].type'],
    ['a text part without text', { messages: user([{ type: 'text', text: 5 }]) }, 'messages[0].content[0].text'],
    ['a refusal part in a user message', { messages: user([{ type: 'refusal', refusal: 'x' }]) }, 'messages[0].content[0].type', 'unsupported_value'],
    ['too many parts', { messages: user(Array.from({ length: 1001 }, () => ({ type: 'text', text: 'x' }))) }, 'messages[0].content'],
    ['unparseable tool-call arguments', { messages: assistantCall('{"city":') }, 'messages[1].tool_calls[0].function.arguments'],
    ['tool-call arguments that are not an object', { messages: assistantCall('[1]') }, 'messages[1].tool_calls[0].function.arguments'],
    ['tool-call arguments that are not a string', { messages: assistantCall({ a: 1 }) }, 'messages[1].tool_calls[0].function.arguments'],
    ['a tool call without id', { messages: [HI, { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }] }, 'messages[1].tool_calls[0].id'],
    ['a tool call of another type', { messages: [HI, { role: 'assistant', tool_calls: [{ id: 'c', type: 'custom', custom: {} }] }] }, 'messages[1].tool_calls[0]'],
    ['tool_calls that are not an array', { messages: [HI, { role: 'assistant', tool_calls: {} }] }, 'messages[1].tool_calls'],
    ['a refusal field that is not a string', { messages: [HI, { role: 'assistant', content: 'x', refusal: 1 }] }, 'messages[1].refusal'],
    ['a tool message without tool_call_id', { messages: [HI, { role: 'tool', content: 'x' }] }, 'messages[1].tool_call_id'],
    ['a tool message with an image', { messages: [HI, { role: 'tool', tool_call_id: 'c', content: [{ type: 'image_url', image_url: { url: 'data:x' } }] }] }, 'messages[1].content[0].type', 'unsupported_value'],
    ['n 2', { n: 2 }, 'n', 'unsupported_value'],
    ['presence_penalty', { presence_penalty: 0.5 }, 'presence_penalty', 'unsupported_value'],
    ['frequency_penalty', { frequency_penalty: -1 }, 'frequency_penalty', 'unsupported_value'],
    ['logprobs', { logprobs: true }, 'logprobs', 'unsupported_value'],
    ['top_logprobs', { top_logprobs: 3 }, 'top_logprobs', 'unsupported_value'],
    ['logit_bias', { logit_bias: { 50256: -100 } }, 'logit_bias', 'unsupported_value'],
    ['store', { store: true }, 'store', 'unsupported_value'],
    ['seed', { seed: 42 }, 'seed', 'unsupported_value'],
    ['legacy functions', { functions: [] }, 'functions', 'unsupported_parameter'],
    ['an unknown field', { modalities: ['audio'] }, 'modalities', 'unsupported_parameter'],
    ['a field named like an Object key', { constructor: 1 }, 'constructor', 'unsupported_parameter'],
    ['temperature above Claude\'s range', { temperature: 1.5 }, 'temperature'],
    ['temperature as a string', { temperature: 'hot' }, 'temperature'],
    ['top_p above 1', { top_p: 2 }, 'top_p'],
    ['max_tokens 0', { max_tokens: 0 }, 'max_tokens'],
    ['a fractional max_completion_tokens', { max_completion_tokens: 1.5 }, 'max_completion_tokens'],
    ['max_tokens as a string', { max_tokens: '100' }, 'max_tokens'],
    ['a bad max_tokens beside a good max_completion_tokens', { max_completion_tokens: 100, max_tokens: -1 }, 'max_tokens'],
    ['a limit without room for thinking', { reasoning_effort: 'low', max_completion_tokens: 1024 }, 'max_completion_tokens'],
    ['an unknown reasoning_effort', { reasoning_effort: 'extreme' }, 'reasoning_effort', 'unsupported_value'],
    ['temperature with thinking', { reasoning_effort: 'low', temperature: 0.5 }, 'temperature'],
    ['top_p below 0.95 with thinking', { reasoning_effort: 'low', top_p: 0.9 }, 'top_p'],
    ['a forced tool with thinking', { reasoning_effort: 'low', tools: [WEATHER], tool_choice: 'required' }, 'tool_choice'],
    ['temperature with reasoning_effort, also on a round sent without thinking', { reasoning_effort: 'low', temperature: 0.2, messages: [
      HI, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }, 'temperature'],
    ['stop that is a number', { stop: 5 }, 'stop'],
    ['an empty stop sequence', { stop: [''] }, 'stop'],
    ['too many stop sequences', { stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, 'stop'],
    ['a long user', { user: 'u'.repeat(257) }, 'user'],
    ['a numeric user', { user: 5 }, 'user'],
    ['tools that are not an array', { tools: {} }, 'tools'],
    ['too many tools', { tools: Array.from({ length: 129 }, () => WEATHER) }, 'tools'],
    ['a non-function tool', { tools: [{ type: 'web_search' }] }, 'tools[0].type', 'unsupported_value'],
    ['a tool without a function', { tools: [{ type: 'function' }] }, 'tools[0].function'],
    ['a tool name Claude refuses', { tools: [{ type: 'function', function: { name: 'get weather' } }] }, 'tools[0].function.name'],
    ['tool parameters that are not a schema', { tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }, 'tools[0].function.parameters'],
    ['a description that is not a string', { tools: [{ type: 'function', function: { name: 'f', description: 1 } }] }, 'tools[0].function.description'],
    ['an unknown tool_choice', { tools: [WEATHER], tool_choice: 'sometimes' }, 'tool_choice'],
    ['tool_choice naming a missing function', { tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'other' } } }, 'tool_choice.function.name'],
    ['tool_choice required without tools', { tool_choice: 'required' }, 'tool_choice'],
    ['parallel_tool_calls as a string', { tools: [WEATHER], parallel_tool_calls: 'no' }, 'parallel_tool_calls'],
    ['response_format that is not an object', { response_format: 'json' }, 'response_format'],
    ['an unknown response_format', { response_format: { type: 'xml' } }, 'response_format.type', 'unsupported_value'],
    ['json_schema without a schema', { response_format: { type: 'json_schema', json_schema: { name: 'r' } } }, 'response_format.json_schema.schema'],
    ['stream as a string', { stream: 'yes' }, 'stream'],
    ['stream_options of the wrong shape', { stream_options: { include_usage: 'yes' } }, 'stream_options'],
    ['metadata that is not an object', { metadata: 'x' }, 'metadata'],
  ])('%s', async (_name, over, param, code = null) => {
    const err = await refusal(over)
    expect(err.param).toBe(param)
    expect(err.code).toBe(code)
    expect(err.message).toMatch(/\w/)
  })
})

// ---------------------------------------------------------------------------------------------
// Answers

const CTX: TranslateContext = { id: 'chatcmpl-1', created: 1700000000, model: 'claude-sonnet-4-5', includeUsage: true }
const USAGE = { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 100, cache_creation_input_tokens: 30, cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 } }
const OPENAI_USAGE = { prompt_tokens: 140, completion_tokens: 20, total_tokens: 160, prompt_tokens_details: { cached_tokens: 100 } }
const STOPS: [string | null | undefined, string][] = [
  ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'], ['model_context_window_exceeded', 'length'],
  ['pause_turn', 'length'], ['tool_use', 'tool_calls'], ['refusal', 'content_filter'], ['something_new', 'stop'], ['constructor', 'stop'],
]

describe('fromClaudeMessage', () => {
  const message = (over: Json) => ({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [], stop_reason: 'end_turn', usage: USAGE, ...over })

  it('builds a whole chat.completion', () => {
    const out = fromClaudeMessage(message({ content: [{ type: 'text', text: 'Hello' }] }), CTX)
    expect(out.body).toEqual({
      id: 'chatcmpl-1', object: 'chat.completion', created: 1700000000, model: 'claude-sonnet-4-5',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello', refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: OPENAI_USAGE,
    })
    expect(out.usage).toEqual({ inputTokens: 10, outputTokens: 20, cacheRead: 100, cacheCreate5m: 10, cacheCreate1h: 20 })
    expect(out.model).toBe('claude-sonnet-4-5-20250929')
  })

  it.each<[string, unknown[], Json]>([
    ['text blocks joined', [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], { content: 'ab' }],
    ['no text: content null', [], { content: null }],
    ['tool_use → tool_calls with the tool_use id', [{ type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }, { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} }], {
      content: 'Let me look.',
      tool_calls: [
        { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        { id: 'toolu_2', type: 'function', function: { name: 'now', arguments: '{}' } },
      ],
    }],
    ['thinking → reasoning_content, redacted thinking left out', [{ type: 'thinking', thinking: 'Hmm. ', signature: 's' }, { type: 'redacted_thinking', data: 'x' }, { type: 'thinking', thinking: 'Yes.' }, { type: 'text', text: '42' }],
      { content: '42', reasoning_content: 'Hmm. Yes.' }],
    ['malformed blocks are skipped', [null, 5, { type: 'text' }, { type: 'tool_use' }, { type: 'mystery', text: 'x' }],
      { content: '', tool_calls: [{ id: '', type: 'function', function: { name: '', arguments: '{}' } }] }],
  ])('%s', (_name, content, expected) => {
    const choice = (fromClaudeMessage(message({ content }), CTX).body.choices as Json[])[0]!
    expect(choice.message).toEqual({ role: 'assistant', refusal: null, ...expected })
  })

  it.each(STOPS)('stop_reason %s → finish_reason %s', (stop, finish) => {
    const choice = (fromClaudeMessage(message({ stop_reason: stop }), CTX).body.choices as Json[])[0]!
    expect(choice.finish_reason).toBe(finish)
  })

  it.each<[string, unknown]>([['null', null], ['a string', 'oops'], ['content not an array', { content: 'x', usage: 'x' }], ['an array', []]])('reads %s without throwing', (_name, json) => {
    const out = fromClaudeMessage(json, CTX)
    expect((out.body.choices as Json[])[0]).toMatchObject({ message: { role: 'assistant', content: null }, finish_reason: 'stop' })
    expect(out.usage).toBeNull()
    expect(out.model).toBeNull()
    expect(out.body.usage).toBeUndefined()
  })

  it('counts only plausible usage numbers', () => {
    const out = fromClaudeMessage(message({ usage: { input_tokens: -5, output_tokens: 1.5, cache_read_input_tokens: 7 } }), CTX)
    expect(out.usage).toEqual({ inputTokens: 0, outputTokens: 0, cacheRead: 7, cacheCreate5m: 0, cacheCreate1h: 0 })
  })
})

// ---------------------------------------------------------------------------------------------
// Streams

const ev = (type: string, data: Json = {}) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
const START = ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [], stop_reason: null, usage: { ...USAGE, output_tokens: 1 } } })
const stopEvents = (stop: string | null = 'end_turn', usage: Json = { output_tokens: 20 }) => [ev('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage }), ev('message_stop')]

/** A stream with thinking, text (with multi-byte characters) and two tool calls at Anthropic block indexes 2 and 3. */
const FULL = [
  START,
  ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Weather → tool.' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'c2ln' } }),
  ev('content_block_stop', { index: 0 }),
  ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
  ev('ping'),
  ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Checking Zürich ' } }),
  ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: '☀️' } }),
  ev('content_block_stop', { index: 1 }),
  ev('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_A', name: 'get_weather', input: {} } }),
  ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '' } }),
  ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"city": "Zü' } }),
  ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: 'rich"}' } }),
  ev('content_block_stop', { index: 2 }),
  ev('content_block_start', { index: 3, content_block: { type: 'tool_use', id: 'toolu_B', name: 'now', input: {} } }),
  ev('content_block_stop', { index: 3 }),
  ...stopEvents('tool_use'),
].join('')

/** Run a stream through a translator, cut at the given byte offsets; returns everything written. */
function run(stream: string | Buffer, cuts: number[] = [], ctx: TranslateContext = CTX, finish: (t: ClaudeToOpenAIStream) => void = t => t.end()) {
  const bytes = Buffer.isBuffer(stream) ? stream : Buffer.from(stream)
  let out = ''
  const t = new ClaudeToOpenAIStream(ctx, s => (out += s))
  let prev = 0
  for (const c of [...cuts, bytes.length]) {
    t.push(bytes.subarray(prev, c))
    prev = c
  }
  finish(t)
  return { out, t }
}

/** The data payloads written, parsed (`[DONE]` kept as a string). */
const events = (out: string) => out.split('\n\n').filter(Boolean).map((e) => {
  expect(e.startsWith('data: ')).toBe(true)
  const data = e.slice('data: '.length)
  return data === '[DONE]' ? data : JSON.parse(data) as Json
})
const deltas = (out: string) => events(out).filter((e): e is Json => typeof e !== 'string' && Array.isArray(e.choices) && e.choices.length > 0)
  .map(e => (e.choices as Json[])[0]!).map((c): Json => (c.finish_reason ? { delta: c.delta, finish: c.finish_reason } : c.delta as Json))

describe('ClaudeToOpenAIStream', () => {
  it('translates every event kind into chunks, numbering tool calls 0, 1, …', () => {
    const { out, t } = run(FULL)
    expect(deltas(out)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'Weather → tool.' },
      { content: 'Checking Zürich ' },
      { content: '☀️' },
      { tool_calls: [{ index: 0, id: 'toolu_A', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city": "Zü' } }] },
      { tool_calls: [{ index: 0, function: { arguments: 'rich"}' } }] },
      { tool_calls: [{ index: 1, id: 'toolu_B', type: 'function', function: { name: 'now', arguments: '' } }] },
      // A call whose input never came gets {} so the client's JSON.parse holds.
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      { delta: {}, finish: 'tool_calls' },
    ])
    const all = events(out)
    expect(all.at(-1)).toBe('[DONE]')
    expect(all.at(-2)).toEqual({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model: 'claude-sonnet-4-5', choices: [], usage: OPENAI_USAGE })
    for (const e of all.slice(0, -2)) expect(e).toMatchObject({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model: 'claude-sonnet-4-5' })
    expect(t.usage).toEqual({ inputTokens: 10, outputTokens: 20, cacheRead: 100, cacheCreate5m: 10, cacheCreate1h: 20 })
    expect(t.model).toBe('claude-sonnet-4-5-20250929')
  })

  it('writes the same output however the upstream bytes are split (every byte boundary, and byte by byte)', () => {
    const bytes = Buffer.from(FULL)
    const whole = run(bytes).out
    for (let k = 0; k <= bytes.length; k++) expect(run(bytes, [k]).out, `cut at byte ${k}`).toBe(whole)
    expect(run(bytes, Array.from({ length: bytes.length }, (_, i) => i)).out).toBe(whole)
    expect(run(FULL.replaceAll('\n', '\r\n')).out).toBe(whole)
  })

  it('writes each chunk as its event arrives', () => {
    let out = ''
    const t = new ClaudeToOpenAIStream(CTX, s => (out += s))
    t.push(Buffer.from(START))
    expect(deltas(out)).toEqual([{ role: 'assistant', content: '' }])
    t.push(Buffer.from(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }).slice(0, -1)))
    expect(deltas(out)).toHaveLength(1)
    t.push(Buffer.from('\n'))
    expect(deltas(out)).toEqual([{ role: 'assistant', content: '' }, { content: 'Hi' }])
  })

  it.each(STOPS)('stop_reason %s → finish_reason %s', (stop, finish) => {
    const { out } = run(START + stopEvents(stop).join(''))
    expect(deltas(out).at(-1)).toEqual({ delta: {}, finish })
  })

  it('sends no usage chunk unless asked, and still taps usage', () => {
    const { out, t } = run(FULL, [], { ...CTX, includeUsage: false })
    expect(events(out).filter(e => typeof e !== 'string' && (e.choices as Json[]).length === 0)).toEqual([])
    expect(events(out).at(-1)).toBe('[DONE]')
    expect(t.usage?.cacheRead).toBe(100)
  })

  it('gives the role to the first delta when message_start is missing, and usage null when none came', () => {
    const { out, t } = run(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'x' } }) + stopEvents('end_turn', null as never).join(''))
    expect(deltas(out)).toEqual([{ role: 'assistant', content: 'x' }, { delta: {}, finish: 'stop' }])
    expect(t.usage).toBeNull()
    expect(events(out).at(-2)).toMatchObject({ choices: [], usage: null })
  })

  it('turns an upstream error event into an OpenAI error event and ends', () => {
    const text = ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hal' } })
    const { out, t } = run(START + text + ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }) + text + stopEvents().join(''))
    expect(events(out).slice(-2)).toEqual([{ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded' } }, '[DONE]'])
    expect(deltas(out)).toEqual([{ role: 'assistant', content: '' }, { content: 'Hal' }])
    const before = out
    t.push(Buffer.from(text))
    t.end()
    t.fail('again')
    expect(out).toBe(before)
  })

  it.each<[string, Json]>([
    ['no error object', {}],
    ['an unknown error type', { error: { type: 'strange', message: 'Odd' } }],
  ])('maps an error event with %s to a server error', (_name, data) => {
    const { out } = run(START + ev('error', data))
    expect(events(out).at(-2)).toMatchObject({ error: { type: 'server_error', param: null } })
  })

  it('fail(): an error event and [DONE], nothing after', () => {
    const { out, t } = run(START, [], CTX, t => t.fail('Upstream connection was lost mid-stream.'))
    expect(events(out).slice(-2)).toEqual([{ error: { message: 'Upstream connection was lost mid-stream.', type: 'server_error', param: null, code: null } }, '[DONE]'])
    const before = out
    t.push(Buffer.from(stopEvents().join('')))
    t.end()
    expect(out).toBe(before)
  })

  it('end() after a stream cut before Claude said why it stopped: an error, not a finish', () => {
    const { out } = run(START + ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hal' } }))
    expect(deltas(out).some(d => 'finish' in d)).toBe(false)
    expect(events(out).slice(-2)).toEqual([{ error: expect.objectContaining({ type: 'server_error' }) }, '[DONE]'])
  })

  it('gives {} to a call whose block never stopped', () => {
    const { out } = run(START + ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_A', name: 'now', input: {} } }) + stopEvents('tool_use').join(''))
    expect(deltas(out).slice(1)).toEqual([
      { tool_calls: [{ index: 0, id: 'toolu_A', type: 'function', function: { name: 'now', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{}' } }] },
      { delta: {}, finish: 'tool_calls' },
    ])
  })

  it('message_stop finishes a message whose delta said no stop reason', () => {
    const { out } = run(START + stopEvents(null).join(''))
    expect(deltas(out).at(-1)).toEqual({ delta: {}, finish: 'stop' })
    expect(events(out).at(-1)).toBe('[DONE]')
  })

  it('end() reads a last event that came without its blank line', () => {
    const { out } = run((START + stopEvents().join('')).trimEnd())
    expect(deltas(out).at(-1)).toEqual({ delta: {}, finish: 'stop' })
    expect(events(out).at(-1)).toBe('[DONE]')
  })

  it('skips malformed events without throwing', () => {
    const junk = [
      'data: {not json\n\n', 'data: 42\n\n', 'data: null\n\n', 'data: [1]\n\n', ': a comment\n\n',
      ev('content_block_delta', { delta: { type: 'text_delta', text: 'no index' } }),
      ev('content_block_delta', { index: 7, delta: { type: 'input_json_delta', partial_json: '{"x":1}' } }),
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 5 } }),
      ev('content_block_delta', { index: 0, delta: 'x' }),
      ev('content_block_start', { index: 0, content_block: null }),
      ev('content_block_start', { index: 0, content_block: { type: 'server_tool_use', id: 's', name: 'web_search' } }),
      ev('content_block_stop', { index: 99 }),
      ev('message_start', { message: 'x' }),
      ev('message_delta', { delta: 5, usage: { output_tokens: 'many' } }),
      ev('something_new', { index: 0 }),
    ].join('')
    const text = ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'ok' } })
    const { out, t } = run(START + junk + text + stopEvents().join(''))
    expect(deltas(out)).toEqual([{ role: 'assistant', content: '' }, { content: 'ok' }, { delta: {}, finish: 'stop' }])
    expect(t.usage?.outputTokens).toBe(20)
  })

  it('sends nothing that arrives after the finish chunk but usage', () => {
    const late = ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'late' } })
    const { out, t } = run(START + ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } }) + late
      + ev('message_delta', { delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 9 } }) + ev('message_stop'))
    expect(deltas(out)).toEqual([{ role: 'assistant', content: '' }, { delta: {}, finish: 'stop' }])
    expect(t.usage?.outputTokens).toBe(9)
  })

  it('drops an oversized event and carries on', () => {
    const huge = ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'x'.repeat(1024 * 1024 + 10) } })
    const { out } = run(START + huge + stopEvents().join(''))
    expect(deltas(out)).toEqual([{ role: 'assistant', content: '' }, { delta: {}, finish: 'stop' }])
  })
})

// ---------------------------------------------------------------------------------------------
// Errors

describe('claudeErrorToOpenAI', () => {
  const anthropic = (type: string, message: string) => Buffer.from(JSON.stringify({ type: 'error', error: { type, message } }))
  it.each<[number, Buffer, string, string | null, string | RegExp]>([
    [400, anthropic('invalid_request_error', 'messages: roles must alternate'), 'invalid_request_error', null, 'messages: roles must alternate'],
    [400, anthropic('invalid_request_error', 'prompt is too long: 210000 tokens > 200000 maximum'), 'invalid_request_error', 'context_length_exceeded', /prompt is too long/],
    [401, anthropic('authentication_error', 'invalid x-api-key'), 'authentication_error', null, 'invalid x-api-key'],
    [403, anthropic('permission_error', 'no access'), 'permission_error', null, 'no access'],
    [404, anthropic('not_found_error', 'model: claude-x'), 'not_found_error', null, 'model: claude-x'],
    [413, anthropic('request_too_large', 'too big'), 'invalid_request_error', 'request_too_large', 'too big'],
    [429, anthropic('rate_limit_error', 'slow down'), 'rate_limit_error', null, 'slow down'],
    [500, anthropic('api_error', 'Internal server error'), 'server_error', null, 'Internal server error'],
    [529, anthropic('overloaded_error', 'Overloaded'), 'server_error', 'overloaded', 'Overloaded'],
    [504, anthropic('timeout_error', 'timed out'), 'server_error', 'timeout', 'timed out'],
    [418, anthropic('brand_new_error', 'teapot'), 'invalid_request_error', null, 'teapot'],
    [502, Buffer.from('<html>Bad gateway</html>'), 'server_error', null, 'The upstream answered 502 Bad Gateway without a readable error.'],
    [429, Buffer.from(''), 'rate_limit_error', null, /429 Too Many Requests/],
    [401, Buffer.from('{"error":"nope"}'), 'authentication_error', null, /401/],
    [403, Buffer.from('{"type":"error","error":{"type":"permission_error","message":7}}'), 'permission_error', null, /403 Forbidden/],
    [529, Buffer.from('null'), 'server_error', null, 'The upstream answered 529 without a readable error.'],
  ])('%i %s', (status, body, type, code, message) => {
    const out = claudeErrorToOpenAI(status, body)
    expect(out.status).toBe(status)
    expect(out.body.error).toMatchObject({ type, code, param: null })
    if (typeof message === 'string') expect(out.body.error.message).toBe(message)
    else expect(out.body.error.message).toMatch(message)
  })

  it('bounds the upstream message, and does not parse a huge body', () => {
    expect(claudeErrorToOpenAI(400, anthropic('invalid_request_error', 'x'.repeat(10_000))).body.error.message).toHaveLength(2000)
    const huge = claudeErrorToOpenAI(400, anthropic('invalid_request_error', 'y'.repeat(70_000)))
    expect(huge.body.error.message).toMatch(/400 Bad Request/)
  })
})
