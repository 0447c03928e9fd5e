// OpenAI chat messages → Gemini's systemInstruction and contents (part of to-gemini.ts, split for size).
import { bad, type ImageResolver, isObject, OpenAIRequestError, REQUEST_LIMITS } from './types'

type Json = Record<string, unknown>

const { messages: MAX_MESSAGES, parts: MAX_PARTS, toolCalls: MAX_TOOL_CALLS, images: MAX_IMAGES } = REQUEST_LIMITS
/** A tool call id as clients send it back: printable ASCII, bounded. */
const CALL_ID = /^[\x21-\x7e]{1,256}$/
/**
 * The documented placeholder for a function call whose thought signature is not available (Gemini 3
 * refuses a replayed function call without one; an OpenAI client never saw the real signature).
 */
const NO_SIGNATURE = 'skip_thought_signature_validator'

/** The fields each role may carry besides `role` and `content`; any other is refused. */
const FIELDS = new Map<string, ReadonlySet<string>>(Object.entries({
  system: new Set(['name']),
  developer: new Set(['name']),
  user: new Set(['name']),
  // refusal and reasoning_content come back from clients that echo the previous answer whole: they are
  // output, not input, and Gemini cannot be shown unsigned thoughts, so they are read past.
  assistant: new Set(['name', 'tool_calls', 'refusal', 'reasoning_content']),
  tool: new Set(['tool_call_id']),
}))

interface Turn { role: 'user' | 'model', parts: Json[] }

/** The texts of a string or an array of `text` parts; other part types are refused at `at`. */
function texts(content: unknown, at: string): string[] {
  if (typeof content === 'string') return [content]
  if (!Array.isArray(content)) throw bad(`${at} must be a string or an array of text parts.`, at)
  if (content.length > MAX_PARTS) throw bad(`${at} may hold at most ${MAX_PARTS} parts.`, at)
  return content.map((p, j) => {
    if (!isObject(p) || p.type !== 'text' || typeof p.text !== 'string') throw bad(`${at}[${j}] must be a text part ({"type":"text","text":"…"}).`, `${at}[${j}]`)
    return p.text
  })
}

/** Text parts for Gemini, which refuses empty ones. */
const textParts = (list: string[]): Json[] => list.filter(t => t !== '').map(text => ({ text }))

/**
 * Messages into Gemini's shape: system and developer messages (wherever they stand) become
 * systemInstruction; user and tool turns role `user`, assistant turns `model`, consecutive turns of
 * one role merged (Gemini wants them alternating). A tool result names its function, found through
 * the assistant tool call it answers.
 */
export async function contentsOf(messages: unknown, images: ImageResolver): Promise<{ system: Json[], contents: Turn[] }> {
  if (!Array.isArray(messages) || messages.length === 0) throw bad('messages must be a non-empty array.', 'messages')
  if (messages.length > MAX_MESSAGES) throw bad(`messages may hold at most ${MAX_MESSAGES} messages.`, 'messages')
  const callNames = new Map<string, string>()
  const system: Json[] = []
  const contents: Turn[] = []
  const budget = { images: MAX_IMAGES }
  const add = (role: Turn['role'], parts: Json[]) => {
    const last = contents.at(-1)
    if (!parts.length) return
    if (last?.role === role) last.parts.push(...parts)
    else contents.push({ role, parts })
  }
  for (const [i, m] of messages.entries()) {
    const at = `messages[${i}]`
    if (!isObject(m)) throw bad(`${at} must be an object.`, at)
    const allowed = typeof m.role === 'string' ? FIELDS.get(m.role) : undefined
    if (!allowed) throw bad(`${at}.role must be one of system, developer, user, assistant, tool.`, `${at}.role`)
    for (const [k, v] of Object.entries(m)) {
      if (k === 'role' || k === 'content' || v === null || v === undefined) continue
      if (!allowed.has(k)) throw bad(`${at}.${k.slice(0, 64)} is not supported on a ${m.role} message.`, `${at}.${k.slice(0, 64)}`)
      if (k !== 'tool_calls' && typeof v !== 'string') throw bad(`${at}.${k} must be a string.`, `${at}.${k}`)
    }
    if (m.role === 'system' || m.role === 'developer') system.push(...textParts(texts(m.content, `${at}.content`)))
    else if (m.role === 'user') add('user', await userParts(m.content, `${at}.content`, images, budget))
    else if (m.role === 'assistant') add('model', assistantParts(m, at, callNames))
    else add('user', [toolResult(m, at, callNames)])
  }
  if (!contents.length) throw bad('messages must hold at least one user or assistant message with content.', 'messages')
  return { system, contents }
}

/** A user message's parts: text, and `image_url` parts resolved into inline data. */
async function userParts(content: unknown, at: string, images: ImageResolver, budget: { images: number }): Promise<Json[]> {
  if (!Array.isArray(content)) return textParts(texts(content, at))
  if (content.length > MAX_PARTS) throw bad(`${at} may hold at most ${MAX_PARTS} parts.`, at)
  const parts: Json[] = []
  for (const [j, p] of content.entries()) {
    const pat = `${at}[${j}]`
    if (isObject(p) && p.type === 'text' && typeof p.text === 'string') {
      parts.push(...textParts([p.text]))
      continue
    }
    if (!isObject(p) || p.type !== 'image_url') throw bad(`${pat} must be a text or image_url part (Gemini models here take no audio or file parts).`, `${pat}.type`)
    const url = isObject(p.image_url) ? p.image_url.url : undefined
    if (typeof url !== 'string') throw bad(`${pat}.image_url.url must be a string.`, `${pat}.image_url.url`)
    if (--budget.images < 0) throw bad(`A request may hold at most ${MAX_IMAGES} images.`, pat)
    try {
      const image = await images(url)
      parts.push({ inlineData: { mimeType: image.mediaType, data: image.data } })
    }
    catch (err) {
      // The resolver's refusal, pinned to this part when it named none.
      if (err instanceof OpenAIRequestError && err.param === null) throw new OpenAIRequestError(err.message, `${pat}.image_url.url`, err.code)
      throw err
    }
  }
  return parts
}

/** An assistant message's text and its tool calls as `functionCall` parts. */
function assistantParts(m: Json, at: string, callNames: Map<string, string>): Json[] {
  const parts = m.content === null || m.content === undefined ? [] : textParts(texts(m.content, `${at}.content`))
  if (m.tool_calls === undefined || m.tool_calls === null) return parts
  if (!Array.isArray(m.tool_calls) || m.tool_calls.length > MAX_TOOL_CALLS) throw bad(`${at}.tool_calls must be an array of at most ${MAX_TOOL_CALLS} calls.`, `${at}.tool_calls`)
  for (const [j, call] of m.tool_calls.entries()) {
    const cat = `${at}.tool_calls[${j}]`
    const fn = isObject(call) ? call.function : undefined
    if (!isObject(call) || call.type !== 'function' || !isObject(fn)) throw bad(`${cat} must be {"id","type":"function","function":{"name","arguments"}}.`, cat)
    if (typeof call.id !== 'string' || !CALL_ID.test(call.id)) throw bad(`${cat}.id must be 1 to 256 printable characters.`, `${cat}.id`)
    if (typeof fn.name !== 'string' || !fn.name) throw bad(`${cat}.function.name must be a non-empty string.`, `${cat}.function.name`)
    callNames.set(call.id, fn.name)
    const part: Json = { functionCall: { name: fn.name, args: callArgs(fn.arguments, `${cat}.function.arguments`) } }
    // The first call of a turn carries the signature Gemini 3 checks (parallel calls after it carry none).
    if (j === 0) part.thoughtSignature = NO_SIGNATURE
    parts.push(part)
  }
  return parts
}

/** A tool call's `arguments` (a JSON string) as the object Gemini takes; `""` is no arguments. */
function callArgs(raw: unknown, at: string): Json {
  if (raw === '' || raw === undefined) return {}
  if (typeof raw !== 'string') throw bad(`${at} must be a JSON string.`, at)
  let args: unknown
  try {
    args = JSON.parse(raw)
  }
  catch {
    throw bad(`${at} must be a JSON object encoded as a string.`, at)
  }
  if (!isObject(args)) throw bad(`${at} must encode a JSON object.`, at)
  return args
}

/**
 * A tool message as a `functionResponse` part. Gemini takes an object as the response: a result
 * that is a JSON object is passed as that object; anything else (plain text, arrays, numbers) is
 * passed as the string the client sent, wrapped as `{ content: "…" }`.
 */
function toolResult(m: Json, at: string, callNames: Map<string, string>): Json {
  const id = m.tool_call_id
  if (typeof id !== 'string') throw bad(`${at}.tool_call_id must be a string.`, `${at}.tool_call_id`)
  const name = callNames.get(id)
  if (name === undefined) throw bad(`${at}.tool_call_id does not match any tool call of an earlier assistant message.`, `${at}.tool_call_id`)
  const text = texts(m.content ?? '', `${at}.content`).join('')
  let response: Json = { content: text }
  try {
    const parsed: unknown = JSON.parse(text)
    if (isObject(parsed)) response = parsed
  }
  catch { /* not JSON: sent as text */ }
  return { functionResponse: { name, response } }
}
