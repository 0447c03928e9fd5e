// OpenAI chat-completions request → Anthropic Messages request. Pure but for the injected image
// resolver. Every field the client sent is translated, accepted at a value that changes nothing,
// or refused with a 400 naming it: never dropped silently.
import { bad, type ChatRequest, type ImageResolver, isObject, REQUEST_LIMITS, type TranslatedRequest } from './types'
import { answersToolCalls, resolveImages, splitMessages } from './to-claude-messages'

type Json = Record<string, unknown>

/** The fields translated below. `metadata` (tags for OpenAI's stored-completions dashboard) is checked, and nothing upstream reads it. */
const TRANSLATED = new Set([
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'stream', 'stream_options',
  'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'reasoning_effort', 'user', 'metadata',
])

/** Fields Claude has no counterpart for: accepted at the value that means "off", which many clients send by default. */
const NEUTRAL: Record<string, { off: (v: unknown) => boolean, why: string }> = {
  n: { off: v => v === 1, why: 'Claude returns one choice per request (send 1 or leave it out)' },
  presence_penalty: { off: v => v === 0, why: 'Claude has no presence penalty (send 0 or leave it out)' },
  frequency_penalty: { off: v => v === 0, why: 'Claude has no frequency penalty (send 0 or leave it out)' },
  logprobs: { off: v => v === false, why: 'Claude returns no log probabilities (send false or leave it out)' },
  top_logprobs: { off: v => v === 0, why: 'Claude returns no log probabilities (send 0 or leave it out)' },
  logit_bias: { off: v => isObject(v) && !Object.keys(v).length, why: 'Claude has no logit bias (send {} or leave it out)' },
  store: { off: v => v === false, why: 'the relay stores no completions (send false or leave it out)' },
  seed: { off: () => false, why: 'Claude has no sampling seed (leave it out)' },
}

/** Thinking budgets by reasoning_effort (1024 is Anthropic's minimum budget). */
const THINKING_BUDGET: Record<string, number> = { minimal: 1024, low: 2048, medium: 8192, high: 16384 }
const MIN_BUDGET = 1024
const MAX_TOOLS = REQUEST_LIMITS.tools
const MAX_STOP = 16
const MAX_USER_ID = 256
/** Anthropic's tool-name rule. */
const TOOL_NAME = /^[\w-]{1,64}$/
/**
 * JSON mode without a schema. Claude's structured outputs need a schema (and close every object
 * to extra keys), so `json_object` is an instruction, as OpenAI's own JSON mode asks the prompt
 * to be; `json_schema` is constrained decoding through `output_config.format`.
 */
const JSON_INSTRUCTION = 'Respond with one valid JSON object and nothing else: no prose, no code fences.'

/** A chat-completions request → the Anthropic Messages request Claude accounts are sent (throws OpenAIRequestError). */
export async function toClaude(req: ChatRequest, images: ImageResolver, defaults: { maxTokens: number }): Promise<TranslatedRequest> {
  checkFields(req)
  if (typeof req.model !== 'string' || !req.model) throw bad('model must be a non-empty string.', 'model')
  const stream = optional<boolean>(req, 'stream', 'boolean') ?? false
  if (req.stream_options != null && (!isObject(req.stream_options) || !['boolean', 'undefined'].includes(typeof req.stream_options.include_usage))) {
    throw bad('stream_options must be {include_usage: boolean}.', 'stream_options')
  }
  if (req.metadata != null && !isObject(req.metadata)) throw bad('metadata must be an object.', 'metadata')

  const { system, turns } = splitMessages(req.messages)
  const format = responseFormat(req.response_format)
  if (format.instruction) system.push({ type: 'text', text: format.instruction })
  const { maxTokens, thinking } = budget(req, defaults.maxTokens, answersToolCalls(turns))
  // What thinking forbids is refused whenever reasoning is asked for, also on a round sent without it.
  const reasoning = req.reasoning_effort != null && req.reasoning_effort !== 'none'
  const tools = toolList(req.tools)
  const body: Json = {
    model: req.model,
    max_tokens: maxTokens,
    ...(system.length && { system: system.length === 1 ? system[0]!.text : system }),
    ...(tools && { tools }),
    ...toolChoice(req, tools, reasoning),
    ...sampling(req, reasoning),
    ...(thinking && { thinking }),
    ...(format.outputConfig && { output_config: format.outputConfig }),
    ...stopSequences(req.stop),
    ...userId(req.user),
    ...(stream && { stream: true }),
  }
  // Images last: a request refused for any field costs no fetch.
  body.messages = await resolveImages(turns, images)
  return { body, stream }
}

/** Unknown fields and non-neutral values of fields Claude cannot honour are refused, naming the field. */
function checkFields(req: ChatRequest): void {
  for (const [k, v] of Object.entries(req)) {
    if (TRANSLATED.has(k) || v == null) continue
    const neutral = Object.hasOwn(NEUTRAL, k) ? NEUTRAL[k]! : null
    if (neutral?.off(v)) continue
    if (neutral) throw bad(`${k} cannot be used when relaying to Claude: ${neutral.why}.`, k, 'unsupported_value')
    const hint = k === 'functions' || k === 'function_call' ? ' Use tools and tool_choice.' : ''
    throw bad(`${k} is not supported when relaying to Claude.${hint}`, k, 'unsupported_parameter')
  }
}

/** A field of the given type, or undefined when absent (null counts as absent, as OpenAI takes it). */
function optional<T extends boolean | number>(req: ChatRequest, k: string, type: 'boolean' | 'number'): T | undefined {
  const v = req[k]
  if (v == null) return undefined
  if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) throw bad(`${k} must be a ${type}.`, k)
  return v as T
}

function positiveInt(req: ChatRequest, k: string): number | undefined {
  const v = optional<number>(req, k, 'number')
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw bad(`${k} must be a positive integer.`, k)
  return v
}

function range(req: ChatRequest, k: string, min: number, max: number, why: string): number | undefined {
  const v = optional<number>(req, k, 'number')
  if (v !== undefined && (v < min || v > max)) throw bad(`${k} must be from ${min} to ${max}${why}.`, k)
  return v
}

/**
 * `max_completion_tokens` (or the older `max_tokens`) and `reasoning_effort` → `max_tokens` and a
 * thinking budget. Both APIs count thinking inside the limit, so a client's limit stays the limit
 * and the budget shrinks to fit under it (Anthropic wants budget < max_tokens); without a limit
 * the budget comes on top of the default, leaving the answer the default's room.
 * A request answering tool calls goes without thinking: Anthropic refuses thinking there unless the
 * assistant turn's signed thinking comes back, which OpenAI histories do not hold. Refusing would
 * break every tool round of a client that asks for reasoning; the next user turn thinks again.
 */
function budget(req: ChatRequest, fallback: number, toolRound: boolean): { maxTokens: number, thinking?: Json } {
  const newer = positiveInt(req, 'max_completion_tokens')
  const older = positiveInt(req, 'max_tokens')
  const param = newer !== undefined ? 'max_completion_tokens' : 'max_tokens'
  const limit = newer ?? older
  const effort: unknown = req.reasoning_effort
  if (effort == null || effort === 'none') return { maxTokens: limit ?? fallback }
  const wanted = typeof effort === 'string' && Object.hasOwn(THINKING_BUDGET, effort) ? THINKING_BUDGET[effort]! : 0
  if (!wanted) throw bad('reasoning_effort must be none, minimal, low, medium or high.', 'reasoning_effort', 'unsupported_value')
  if (toolRound) return { maxTokens: limit ?? fallback }
  if (limit === undefined) return { maxTokens: fallback + wanted, thinking: { type: 'enabled', budget_tokens: wanted } }
  if (limit <= MIN_BUDGET) throw bad(`${param} must be above ${MIN_BUDGET} with reasoning_effort: Claude thinks for at least ${MIN_BUDGET} tokens within it.`, param)
  return { maxTokens: limit, thinking: { type: 'enabled', budget_tokens: Math.min(wanted, limit - 1) } }
}

/**
 * temperature and top_p. With thinking Anthropic takes temperature 1 only and top_p from 0.95:
 * other values are refused, naming the field (leaving them out would change the answer unasked).
 * top_p 1 (the default, a no-op) is not sent: newer Claude models refuse temperature and top_p together.
 */
function sampling(req: ChatRequest, reasoning: boolean): Json {
  const temperature = range(req, 'temperature', 0, 1, ' (Claude\'s range)')
  const topP = range(req, 'top_p', 0, 1, '')
  if (reasoning && temperature !== undefined && temperature !== 1) {
    throw bad('temperature cannot be changed with reasoning_effort: Claude thinks at temperature 1 (send 1 or leave it out).', 'temperature')
  }
  if (reasoning && topP !== undefined && topP < 0.95) {
    throw bad('top_p must be from 0.95 to 1 with reasoning_effort (a limit of Claude\'s thinking).', 'top_p')
  }
  return { ...(temperature !== undefined && { temperature }), ...(topP !== undefined && topP < 1 && { top_p: topP }) }
}

function stopSequences(v: unknown): Json {
  if (v == null) return {}
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.length > MAX_STOP || list.some(s => typeof s !== 'string' || !s)) {
    throw bad(`stop must be a non-empty string or an array of at most ${MAX_STOP} of them.`, 'stop')
  }
  return list.length ? { stop_sequences: list } : {}
}

/** `user` → `metadata.user_id` (which also keeps a user's conversation on one account: see anthropic/session.ts). */
function userId(v: unknown): Json {
  if (v == null || v === '') return {}
  if (typeof v !== 'string' || v.length > MAX_USER_ID) throw bad(`user must be a string of at most ${MAX_USER_ID} characters.`, 'user')
  return { metadata: { user_id: v } }
}

/** Function tools → Anthropic tools (`strict` kept: Claude's strict tool use validates inputs against the schema). */
function toolList(v: unknown): Json[] | undefined {
  if (v == null) return undefined
  if (!Array.isArray(v) || v.length > MAX_TOOLS) throw bad(`tools must be an array of at most ${MAX_TOOLS} tools.`, 'tools')
  const tools = v.map((t: unknown, i) => {
    const p = `tools[${i}]`
    if (!isObject(t) || t.type !== 'function') throw bad(`${p}.type must be function: Claude takes function tools only.`, `${p}.type`, 'unsupported_value')
    const f = t.function
    if (!isObject(f)) throw bad(`${p}.function must be an object.`, `${p}.function`)
    if (typeof f.name !== 'string' || !TOOL_NAME.test(f.name)) throw bad(`${p}.function.name must be 1 to 64 letters, digits, _ or -.`, `${p}.function.name`)
    if (f.description != null && typeof f.description !== 'string') throw bad(`${p}.function.description must be a string.`, `${p}.function.description`)
    if (f.parameters != null && !isObject(f.parameters)) throw bad(`${p}.function.parameters must be a JSON schema object.`, `${p}.function.parameters`)
    if (f.strict != null && typeof f.strict !== 'boolean') throw bad(`${p}.function.strict must be a boolean.`, `${p}.function.strict`)
    return {
      name: f.name,
      ...(f.description && { description: f.description }),
      input_schema: f.parameters ?? { type: 'object', properties: {} },
      ...(f.strict && { strict: true }),
    }
  })
  return tools.length ? tools : undefined
}

/**
 * tool_choice and parallel_tool_calls → Anthropic's tool_choice: auto → auto, none → none,
 * required → any, a named function → tool. Thinking allows auto and none only, so forcing a tool
 * with reasoning_effort is refused. Without tools there is nothing to choose: auto and none mean nothing.
 */
function toolChoice(req: ChatRequest, tools: Json[] | undefined, reasoning: boolean): Json {
  const v = req.tool_choice
  const parallel = optional<boolean>(req, 'parallel_tool_calls', 'boolean')
  let choice: Json
  if (v == null || v === 'auto') choice = { type: 'auto' }
  else if (v === 'none') choice = { type: 'none' }
  else if (v === 'required') choice = { type: 'any' }
  else if (isObject(v) && v.type === 'function' && isObject(v.function) && typeof v.function.name === 'string') {
    if (!tools?.some(t => t.name === (v.function as Json).name)) throw bad('tool_choice names a function that is not in tools.', 'tool_choice.function.name')
    choice = { type: 'tool', name: v.function.name }
  }
  else throw bad('tool_choice must be auto, none, required or {type: \'function\', function: {name}}.', 'tool_choice')
  if (!tools) {
    if (choice.type === 'auto' || choice.type === 'none') return {}
    throw bad('tool_choice requires tools.', 'tool_choice')
  }
  if (reasoning && (choice.type === 'any' || choice.type === 'tool')) {
    throw bad('tool_choice cannot force a tool with reasoning_effort: Claude\'s thinking allows auto or none only.', 'tool_choice')
  }
  if (parallel === false && choice.type !== 'none') choice.disable_parallel_tool_use = true
  else if (v == null) return {}
  return { tool_choice: choice }
}

/** response_format → a JSON instruction (json_object) or Claude's structured outputs (json_schema). */
function responseFormat(v: unknown): { instruction?: string, outputConfig?: Json } {
  if (v == null) return {}
  if (!isObject(v)) throw bad('response_format must be an object.', 'response_format')
  if (v.type === 'text') return {}
  if (v.type === 'json_object') return { instruction: JSON_INSTRUCTION }
  if (v.type !== 'json_schema') throw bad('response_format.type must be text, json_object or json_schema.', 'response_format.type', 'unsupported_value')
  const schema = isObject(v.json_schema) ? v.json_schema.schema : undefined
  if (!isObject(schema)) throw bad('response_format.json_schema.schema must be a JSON schema object.', 'response_format.json_schema.schema')
  return { outputConfig: { format: { type: 'json_schema', schema } } }
}
