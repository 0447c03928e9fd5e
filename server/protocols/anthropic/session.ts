import { createHash, type Hash } from 'node:crypto'

const digest = (h: Hash) => h.digest('base64url').slice(0, 22)

/** Characters kept from each end of a long string, and the most values fed to the hash. */
const EDGE = 1024
const MAX_VALUES = 256
const MAX_DEPTH = 8

/**
 * Feed a JSON value to the hash without serialising it: long strings by their length and both
 * ends (a 100 KiB prompt costs 2 KiB of hashing, not a 100 KiB JSON string), at most MAX_VALUES
 * values and MAX_DEPTH levels. Enough to tell conversations apart; it only steers sticky routing.
 */
function feed(h: Hash, v: unknown, depth: number, left: { n: number }): void {
  if (--left.n < 0 || depth > MAX_DEPTH) return
  if (typeof v === 'string') {
    h.update(v.length > 2 * EDGE ? `${v.length}:${v.slice(0, EDGE)}${v.slice(-EDGE)}` : v)
    h.update('\u0000')
  }
  else if (Array.isArray(v)) {
    h.update('[')
    for (const x of v) feed(h, x, depth + 1, left)
    h.update(']')
  }
  else if (v && typeof v === 'object') {
    h.update('{')
    for (const [k, x] of Object.entries(v)) {
      h.update(k.length > EDGE ? k.slice(0, EDGE) : k)
      feed(h, x, depth + 1, left)
    }
    h.update('}')
  }
  else h.update(`${String(v)}\u0000`)
}

/**
 * A conversation's identity in a Messages request, for sticky routing: the session part of
 * `metadata.user_id` (Claude Code sends `user_…_account_…_session_<uuid>`), else the whole user
 * id, else the system prompt with the first user message. Null when the request has none of these.
 * Only a hash leaves this function: prompts are never stored.
 */
export function sessionHash(body: Record<string, unknown>): string | null {
  const uid = (body.metadata as { user_id?: unknown } | undefined)?.user_id
  if (typeof uid === 'string' && uid) return digest(createHash('sha256').update(/session_([\w-]{8,})/.exec(uid)?.[1] ?? uid))
  const first = Array.isArray(body.messages) ? (body.messages as { role?: unknown, content?: unknown }[]).find(m => m?.role === 'user') : undefined
  if (body.system === undefined && !first) return null
  const h = createHash('sha256')
  feed(h, body.system ?? null, 0, { n: MAX_VALUES })
  feed(h, first?.content ?? null, 0, { n: MAX_VALUES })
  return digest(h)
}
