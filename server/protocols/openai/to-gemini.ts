// OpenAI chat-completions request → Gemini GenerateContentRequest (the model goes in the URL path,
// which the adapter builds; the body names none).
import { bad, type ChatRequest, type ImageResolver, isObject, REQUEST_LIMITS, type TranslatedRequest } from './types'
import { contentsOf } from './to-gemini-messages'

type Json = Record<string, unknown>

const MAX_TOOLS = REQUEST_LIMITS.tools
const MAX_STOP = 5
const MAX_OUTPUT_TOKENS = 1_000_000
const MAX_ID_TEXT = 1024
/** Gemini's rule for function names (OpenAI's allows a leading digit, which Gemini refuses). */
const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/

/**
 * `reasoning_effort` as a thinking budget in tokens. Every budget is one each Gemini 2.5 model
 * takes (Flash-Lite's floor is 512, Pro's ceiling 32768, Flash's 24576); Gemini 3 reads the budget
 * as a thinking level. `none` turns thinking off where the model allows it (Pro refuses, upstream).
 */
const THINKING_BUDGET = new Map(Object.entries({ none: 0, minimal: 512, low: 1024, medium: 8192, high: 24576 }))

/** Fields accepted only at the neutral value clients send by default, and why any other is refused. */
const NEUTRAL = new Map<string, { ok: (v: unknown) => boolean, why: string }>(Object.entries({
  n: { ok: v => v === 1, why: 'n must be 1: Gemini models answer here with one choice.' },
  logprobs: { ok: v => v === false, why: 'logprobs is not supported with Gemini models.' },
  top_logprobs: { ok: v => v === 0, why: 'top_logprobs is not supported with Gemini models.' },
  logit_bias: { ok: v => isObject(v) && Object.keys(v).length === 0, why: 'logit_bias is not supported with Gemini models.' },
  store: { ok: v => v === false, why: 'store must be false: the relay stores no completions.' },
  service_tier: { ok: v => v === 'auto' || v === 'default', why: 'service_tier must be auto or default with Gemini models.' },
  modalities: { ok: v => Array.isArray(v) && v.length === 1 && v[0] === 'text', why: 'modalities must be ["text"]: Gemini models here answer with text only.' },
}))

/**
 * Fields read and checked but with no Gemini counterpart. `user` and `safety_identifier`: Gemini
 * has no end-user field, and refusing them would break the many clients that always send one.
 * `prompt_cache_key`: Gemini caches prompt prefixes by itself. `metadata` only matters with `store`.
 * `stream_options` is the adapter's (include_usage). `parallel_tool_calls`: Gemini has no switch;
 * it decides per answer whether to call several functions.
 */
const ACCEPTED = new Map<string, (v: unknown) => boolean>(Object.entries({
  user: v => typeof v === 'string' && v.length <= MAX_ID_TEXT,
  safety_identifier: v => typeof v === 'string' && v.length <= MAX_ID_TEXT,
  prompt_cache_key: v => typeof v === 'string' && v.length <= MAX_ID_TEXT,
  metadata: v => isObject(v) && Object.keys(v).length <= 16 && Object.values(v).every(s => typeof s === 'string'),
  stream_options: v => isObject(v) && (v.include_usage === undefined || typeof v.include_usage === 'boolean'),
  parallel_tool_calls: v => typeof v === 'boolean',
}))

/** Fields turned into Gemini's. */
const TRANSLATED = new Set(['model', 'messages', 'stream', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop',
  'presence_penalty', 'frequency_penalty', 'seed', 'tools', 'tool_choice', 'response_format', 'reasoning_effort'])

/**
 * An OpenAI chat request as Gemini's GenerateContentRequest. Every field is known or refused (400
 * naming it); `null` counts as absent, as OpenAI reads it. Tool and response schemas go as JSON
 * Schema (`parametersJsonSchema`, `responseJsonSchema`), which Gemini takes whole: rewriting them
 * into its OpenAPI subset (`parameters`, `responseSchema`) would drop keywords ($ref, anyOf,
 * additionalProperties…) and change what the client asked for.
 */
export async function toGemini(req: ChatRequest, images: ImageResolver, defaults: { maxTokens: number | null }): Promise<TranslatedRequest> {
  for (const [key, v] of Object.entries(req)) {
    if (v === null || TRANSLATED.has(key)) continue
    const neutral = NEUTRAL.get(key)
    const accepted = ACCEPTED.get(key)
    if (neutral && !neutral.ok(v)) throw bad(neutral.why, key)
    if (accepted && !accepted(v)) throw bad(`${key} has an invalid value.`, key)
    if (!neutral && !accepted) throw bad(`Unsupported parameter: ${key.slice(0, 64)} is not supported with Gemini models.`, key.slice(0, 64))
  }
  if (typeof req.model !== 'string' || !req.model) throw bad('model must be a non-empty string.', 'model')
  if (req.stream !== undefined && req.stream !== null && typeof req.stream !== 'boolean') throw bad('stream must be a boolean.', 'stream')
  const { system, contents } = await contentsOf(req.messages, images)
  const { tools, names } = toolsOf(req.tools)
  const toolConfig = toolConfigOf(req.tool_choice, names)
  const body: Json = {
    contents,
    ...(system.length ? { systemInstruction: { parts: system } } : {}),
    ...(tools ? { tools } : {}),
    ...(toolConfig ? { toolConfig } : {}),
    generationConfig: generationConfig(req, defaults),
  }
  return { body, stream: req.stream === true }
}

const present = (v: unknown) => v !== undefined && v !== null

/** A number field within bounds (integers only when `int`), or undefined when absent. */
function num(req: ChatRequest, key: string, min: number, max: number, int = false): number | undefined {
  const v = req[key]
  if (!present(v)) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
    throw bad(`${key} must be ${int ? 'an integer' : 'a number'} from ${min} to ${max}.`, key)
  }
  return v
}

/** Sampling, length, stop, output format and thinking as Gemini's generationConfig. */
function generationConfig(req: ChatRequest, defaults: { maxTokens: number | null }): Json {
  const c: Json = {}
  const completion = num(req, 'max_completion_tokens', 1, MAX_OUTPUT_TOKENS, true)
  const legacy = num(req, 'max_tokens', 1, MAX_OUTPUT_TOKENS, true)
  const max = completion ?? legacy ?? defaults.maxTokens
  if (max !== null) c.maxOutputTokens = max
  c.temperature = num(req, 'temperature', 0, 2)
  c.topP = num(req, 'top_p', 0, 1)
  c.seed = num(req, 'seed', -(2 ** 31), 2 ** 31 - 1, true)
  // A zero penalty is the default clients send; it is left out, as some Gemini models refuse penalties at all.
  c.presencePenalty = num(req, 'presence_penalty', -2, 2) || undefined
  c.frequencyPenalty = num(req, 'frequency_penalty', -2, 2) || undefined
  if (present(req.stop)) {
    const stop = typeof req.stop === 'string' ? [req.stop] : req.stop
    if (!Array.isArray(stop) || stop.length > MAX_STOP || !stop.every(s => typeof s === 'string' && s !== '')) {
      throw bad(`stop must be a non-empty string or an array of at most ${MAX_STOP} of them.`, 'stop')
    }
    if (stop.length) c.stopSequences = stop
  }
  Object.assign(c, responseFormat(req.response_format))
  if (present(req.reasoning_effort)) {
    const budget = typeof req.reasoning_effort === 'string' ? THINKING_BUDGET.get(req.reasoning_effort) : undefined
    if (budget === undefined) throw bad(`reasoning_effort must be one of ${[...THINKING_BUDGET.keys()].join(', ')}.`, 'reasoning_effort')
    c.thinkingConfig = budget ? { thinkingBudget: budget, includeThoughts: true } : { thinkingBudget: 0 }
  }
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined))
}

/** `response_format`: JSON output through Gemini's responseMimeType, with the client's schema as JSON Schema. */
function responseFormat(rf: unknown): Json {
  if (!present(rf)) return {}
  if (!isObject(rf)) throw bad('response_format must be an object.', 'response_format')
  if (rf.type === 'text') return {}
  if (rf.type === 'json_object') return { responseMimeType: 'application/json' }
  if (rf.type !== 'json_schema') throw bad('response_format.type must be text, json_object or json_schema.', 'response_format.type')
  const js = rf.json_schema
  if (!isObject(js) || (present(js.schema) && !isObject(js.schema))) throw bad('response_format.json_schema must be an object whose schema is an object.', 'response_format.json_schema')
  return { responseMimeType: 'application/json', ...(isObject(js.schema) ? { responseJsonSchema: js.schema } : {}) }
}

/** `tools` as one Gemini tool of function declarations, and the declared names. */
function toolsOf(list: unknown): { tools: Json[] | null, names: Set<string> } {
  const names = new Set<string>()
  if (!present(list)) return { tools: null, names }
  if (!Array.isArray(list) || list.length > MAX_TOOLS) throw bad(`tools must be an array of at most ${MAX_TOOLS} tools.`, 'tools')
  const declarations = list.map((t, i) => {
    const at = `tools[${i}]`
    if (!isObject(t) || t.type !== 'function' || !isObject(t.function)) throw bad(`${at} must be {"type":"function","function":{…}}: Gemini models here take function tools only.`, at)
    const { name, description, parameters, strict } = t.function
    if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) throw bad(`${at}.function.name must start with a letter or _ and hold at most 64 letters, digits, _ . : -.`, `${at}.function.name`)
    if (names.has(name)) throw bad(`${at}.function.name repeats an earlier tool's name.`, `${at}.function.name`)
    if (present(description) && typeof description !== 'string') throw bad(`${at}.function.description must be a string.`, `${at}.function.description`)
    if (present(parameters) && !isObject(parameters)) throw bad(`${at}.function.parameters must be a JSON Schema object.`, `${at}.function.parameters`)
    // strict has no Gemini switch; Gemini already holds calls to the declared schema, so it is accepted.
    if (present(strict) && typeof strict !== 'boolean') throw bad(`${at}.function.strict must be a boolean.`, `${at}.function.strict`)
    names.add(name)
    return { name, ...(description ? { description } : {}), ...(isObject(parameters) ? { parametersJsonSchema: parameters } : {}) }
  })
  return { tools: declarations.length ? [{ functionDeclarations: declarations }] : null, names }
}

/** `tool_choice` as Gemini's functionCallingConfig (`required` → ANY; a named function → ANY limited to it). */
function toolConfigOf(choice: unknown, names: Set<string>): Json | null {
  if (!present(choice)) return null
  const config = (mode: string, allowed?: string) => ({ functionCallingConfig: { mode, ...(allowed ? { allowedFunctionNames: [allowed] } : {}) } })
  if (choice === 'none') return names.size ? config('NONE') : null
  if (choice === 'auto') return names.size ? config('AUTO') : null
  if (choice === 'required') {
    if (!names.size) throw bad('tool_choice required needs tools.', 'tool_choice')
    return config('ANY')
  }
  const name = isObject(choice) && choice.type === 'function' && isObject(choice.function) ? choice.function.name : undefined
  if (typeof name !== 'string') throw bad('tool_choice must be none, auto, required or {"type":"function","function":{"name"}}.', 'tool_choice')
  if (!names.has(name)) throw bad('tool_choice names a function that is not in tools.', 'tool_choice.function.name')
  return config('ANY', name)
}
