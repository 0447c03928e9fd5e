import { createHash } from 'node:crypto'

const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22)

/**
 * A conversation's identity in a Messages request, for sticky routing: the session part of
 * `metadata.user_id` (Claude Code sends `user_…_account_…_session_<uuid>`), else the whole user
 * id, else the system prompt with the first user message. Null when the request has none of these.
 * Only a hash leaves this function: prompts are never stored.
 */
export function sessionHash(body: Record<string, unknown>): string | null {
  const uid = (body.metadata as { user_id?: unknown } | undefined)?.user_id
  if (typeof uid === 'string' && uid) return digest(/session_([\w-]{8,})/.exec(uid)?.[1] ?? uid)
  const first = Array.isArray(body.messages) ? (body.messages as { role?: unknown, content?: unknown }[]).find(m => m?.role === 'user') : undefined
  if (body.system === undefined && !first) return null
  try {
    return digest(JSON.stringify([body.system ?? null, first?.content ?? null]))
  }
  catch {
    return null // nested too deeply to serialise (a RangeError): no sticky routing for it
  }
}
