// OpenAI chat `messages` → Anthropic's `system` and alternating user/assistant turns. The whole
// list is validated before the first image is resolved, so a malformed request costs no fetch.
import { bad, type ImageResolver, isObject, REQUEST_LIMITS } from './types'

type Json = Record<string, unknown>

const { messages: MAX_MESSAGES, parts: MAX_PARTS, toolCalls: MAX_TOOL_CALLS, images: MAX_IMAGES } = REQUEST_LIMITS
/** What Claude reads inline. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp'])

/** The keys each role may carry besides `role` and `content`; anything else is refused, not dropped. */
const ROLE_KEYS: Record<string, ReadonlySet<string>> = {
  system: new Set(), developer: new Set(), user: new Set(),
  assistant: new Set(['tool_calls', 'refusal']), tool: new Set(['tool_call_id']),
}

/** An image part that waits for the resolver until the whole request has been validated. */
class PendingImage {
  constructor(readonly url: string, readonly param: string) {}
}
type Block = Json | PendingImage
interface Turn { role: 'user' | 'assistant', content: Block[] }

/** The content parts a role may send: system, developer and tool messages take text only. */
type PartKind = 'text' | 'image_url' | 'refusal'

/** `messages` → system text blocks (system and developer messages, hoisted in order: Claude has one system prompt) and merged turns. */
export function splitMessages(v: unknown): { system: Json[], turns: Turn[] } {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_MESSAGES) {
    throw bad(`messages must be a non-empty array of at most ${MAX_MESSAGES} messages.`, 'messages')
  }
  const system: Json[] = []
  const turns: Turn[] = []
  const images = { n: 0 }
  // Anthropic wants strictly alternating roles: consecutive same-role messages become one turn.
  const add = (role: Turn['role'], blocks: Block[]) => {
    const last = turns.at(-1)
    if (last?.role === role) last.content.push(...blocks)
    else if (blocks.length) turns.push({ role, content: blocks })
  }
  v.forEach((m: unknown, i) => {
    const p = `messages[${i}]`
    if (!isObject(m)) throw bad(`${p} must be an object.`, p)
    const allowed = typeof m.role === 'string' && Object.hasOwn(ROLE_KEYS, m.role) ? ROLE_KEYS[m.role] : undefined
    if (!allowed) {
      throw bad(`${p}.role must be system, developer, user, assistant or tool.`, `${p}.role`)
    }
    for (const k of Object.keys(m)) {
      if (k !== 'role' && k !== 'content' && !allowed.has(k) && m[k] != null) {
        throw bad(`${p}.${k} is not supported for ${String(m.role)} messages when relaying to Claude.`, `${p}.${k}`, 'unsupported_parameter')
      }
    }
    if (m.role === 'system' || m.role === 'developer') system.push(...parts(m.content, `${p}.content`, ['text'], images) as Json[])
    else if (m.role === 'user') {
      const blocks = parts(m.content, `${p}.content`, ['text', 'image_url'], images)
      if (!blocks.length) throw bad(`${p}.content must not be empty: Claude refuses empty user turns.`, `${p}.content`)
      add('user', blocks)
    }
    else if (m.role === 'assistant') add('assistant', assistantBlocks(m, p, images))
    else add('user', [toolResult(m, p, images)])
  })
  if (!turns.length) throw bad('messages must hold at least one user, assistant or tool message.', 'messages')
  return { system, turns }
}

/**
 * True when the last turn answers tool calls: Claude then wants the assistant turn's signed thinking
 * handed back before its tool_use blocks if thinking is on, which an OpenAI history cannot carry.
 */
export const answersToolCalls = (turns: Turn[]): boolean =>
  turns.at(-1)?.role === 'user' && turns.at(-1)!.content.some(b => !(b instanceof PendingImage) && b.type === 'tool_result')

/** Turns with every image resolved (in parallel) into an inline base64 block. */
export function resolveImages(turns: Turn[], resolve: ImageResolver): Promise<Json[]> {
  return Promise.all(turns.map(async t => ({
    role: t.role,
    content: await Promise.all(t.content.map(b => (b instanceof PendingImage ? imageBlock(b, resolve) : b))),
  })))
}

async function imageBlock(img: PendingImage, resolve: ImageResolver): Promise<Json> {
  const { mediaType, data } = await resolve(img.url)
  if (!IMAGE_TYPES.has(mediaType)) throw bad(`${img.param} is ${mediaType}: Claude takes JPEG, PNG, GIF or WebP images.`, img.param)
  return { type: 'image', source: { type: 'base64', media_type: mediaType, data } }
}

/**
 * A string or an array of parts → Anthropic blocks. Empty texts are left out (Anthropic refuses
 * empty text blocks); extra keys on a part (an SDK's own annotations) are not read.
 */
function parts(content: unknown, param: string, kinds: PartKind[], images: { n: number }): Block[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : []
  if (!Array.isArray(content) || content.length > MAX_PARTS) {
    throw bad(`${param} must be a string or an array of at most ${MAX_PARTS} content parts.`, param)
  }
  return content.flatMap((part: unknown, j): Block[] => {
    const q = `${param}[${j}]`
    if (!isObject(part) || typeof part.type !== 'string') throw bad(`${q} must be a content part: an object with a type.`, `${q}.type`)
    const kind = part.type as PartKind
    if (!kinds.includes(kind)) throw bad(`${q}.type must be ${kinds.join(' or ')} here.`, `${q}.type`, 'unsupported_value')
    const p = part
    if (kind === 'image_url') return [pendingImage(p.image_url, `${q}.image_url`, images)]
    const text = p[kind]
    if (typeof text !== 'string') throw bad(`${q}.${kind} must be a string.`, `${q}.${kind}`)
    return text ? [{ type: 'text', text }] : []
  })
}

function pendingImage(v: unknown, param: string, images: { n: number }): PendingImage {
  if (!isObject(v) || typeof v.url !== 'string' || !v.url) throw bad(`${param}.url must be a non-empty string.`, `${param}.url`)
  // `detail` is a resolution hint Claude has no setting for: the image is sent as it is.
  if (v.detail != null && !['auto', 'low', 'high'].includes(v.detail as string)) throw bad(`${param}.detail must be auto, low or high.`, `${param}.detail`)
  if (++images.n > MAX_IMAGES) throw bad(`A request may hold at most ${MAX_IMAGES} images on Claude.`, param)
  return new PendingImage(v.url, param)
}

/** An assistant message: its text (a refusal reads as text) and its tool calls as tool_use blocks. */
function assistantBlocks(m: Json, p: string, images: { n: number }): Block[] {
  const blocks = m.content == null ? [] : parts(m.content, `${p}.content`, ['text', 'refusal'], images)
  if (m.refusal != null) {
    if (typeof m.refusal !== 'string') throw bad(`${p}.refusal must be a string.`, `${p}.refusal`)
    if (m.refusal) blocks.push({ type: 'text', text: m.refusal })
  }
  if (m.tool_calls == null) return blocks
  if (!Array.isArray(m.tool_calls) || m.tool_calls.length > MAX_TOOL_CALLS) {
    throw bad(`${p}.tool_calls must be an array of at most ${MAX_TOOL_CALLS} calls.`, `${p}.tool_calls`)
  }
  m.tool_calls.forEach((c: unknown, j) => {
    const q = `${p}.tool_calls[${j}]`
    if (!isObject(c) || c.type !== 'function' || !isObject(c.function)) throw bad(`${q} must be {id, type: 'function', function: {name, arguments}}.`, q)
    if (typeof c.id !== 'string' || !c.id) throw bad(`${q}.id must be a non-empty string.`, `${q}.id`)
    const name = c.function.name
    if (typeof name !== 'string' || !name) throw bad(`${q}.function.name must be a non-empty string.`, `${q}.function.name`)
    blocks.push({ type: 'tool_use', id: c.id, name, input: toolInput(c.function.arguments, `${q}.function.arguments`) })
  })
  return blocks
}

/** A call's `arguments` (a JSON string) → the object Claude takes as `input`; "" means no arguments. */
function toolInput(v: unknown, param: string): Json {
  if (typeof v !== 'string') throw bad(`${param} must be a JSON string.`, param)
  if (!v.trim()) return {}
  let input: unknown
  try {
    input = JSON.parse(v)
  }
  catch {
    throw bad(`${param} is not valid JSON: Claude needs each call's input as a JSON object.`, param)
  }
  if (!isObject(input)) throw bad(`${param} must be a JSON object: Claude needs each call's input as an object.`, param)
  return input
}

/** A `tool` message → a tool_result block (it goes into a user turn, as Anthropic wants). */
function toolResult(m: Json, p: string, images: { n: number }): Json {
  if (typeof m.tool_call_id !== 'string' || !m.tool_call_id) throw bad(`${p}.tool_call_id must be a non-empty string.`, `${p}.tool_call_id`)
  const content = typeof m.content === 'string' ? m.content : parts(m.content, `${p}.content`, ['text'], images)
  return { type: 'tool_result', tool_use_id: m.tool_call_id, content }
}
