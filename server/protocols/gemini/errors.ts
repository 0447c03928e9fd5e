import type { ServerResponse } from 'node:http'
import type { AccountStateRecord, StateDurations } from '../../accounts/state'
import { defineEventHandler, type EventHandlerRequest, type H3Event } from 'h3'
import { useLogger } from '../../logging'
import { type Fail, type FailKind, isTooDeep, STORE_RETRY_AFTER, STORE_UNAVAILABLE, TOO_DEEP } from '../../relay/steps'
import { isStoreOutage } from '../../store/redis'

/** Google's canonical status names, by the HTTP status the relay answers with. */
const STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 405: 'INVALID_ARGUMENT',
  413: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
}

/** A failure to report to the client in Google's error shape. */
export class GoogleError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

/** `{"error": {"code", "message", "status"}}`, as Google's APIs answer. */
export function googleErrorBody(status: number, message: string): string {
  return JSON.stringify({ error: { code: status, message, status: STATUS[status] ?? 'UNKNOWN' } })
}

function sendGoogleError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  const body = googleErrorBody(status, message)
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** The relay's neutral refusals in Google's shape (the kind only picks the status). */
export const googleFail: Fail = (status: number, _kind: FailKind, message: string, headers?: Record<string, string>) => new GoogleError(status, message, headers)

/** A handler for Gemini routes: GoogleError becomes Google's error shape; anything else a 500 INTERNAL. */
export function defineGeminiHandler<T>(fn: (event: H3Event<EventHandlerRequest>) => Promise<T>) {
  return defineEventHandler(async (event) => {
    try {
      return await fn(event)
    }
    catch (err) {
      if (err instanceof GoogleError) return sendGoogleError(event.node.res, err.status, err.message, err.headers)
      if (isStoreOutage(err)) return sendGoogleError(event.node.res, 503, STORE_UNAVAILABLE, STORE_RETRY_AFTER)
      if (isTooDeep(err)) return sendGoogleError(event.node.res, 400, TOO_DEEP)
      useLogger().error({ err, path: event.path.split('?')[0] }, 'gemini relay handler failed')
      sendGoogleError(event.node.res, 500, 'Internal relay error.')
    }
  })
}

type Json = Record<string, unknown>
const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo'
const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo'

/** The structured details of a Google error body (`error.details[]`), or none. */
function detailsOf(body: Json): Json[] {
  const details = (body.error as Json | undefined)?.details
  return Array.isArray(details) ? details.filter((d): d is Json => !!d && typeof d === 'object') : []
}

/** Seconds in Google's RetryInfo (`"17s"`, `"0.5s"`), or 0. */
function retryDelaySeconds(details: Json[]): number {
  for (const d of details) {
    const m = d['@type'] === RETRY_INFO ? /^(\d+(?:\.\d+)?)s$/.exec(String(d.retryDelay ?? '')) : null
    if (m) return Number(m[1])
  }
  return 0
}

/**
 * What a Google answer says about the account (not the request): 429 → rate limited for
 * RetryInfo's delay (or retry-after); 401, or a 400 whose ErrorInfo reason is API_KEY_INVALID →
 * credentials refused; 5xx → short cooldown. Null when the answer is about the request.
 * Only status codes and structured fields count, never the message: Google echoes what the
 * client sent in its messages (unknown field names), so a key holder controls that text.
 */
export function geminiStateFromResponse(status: number, headers: Record<string, string | string[] | undefined>, raw: string, d: StateDurations, now = Date.now()): AccountStateRecord | null {
  let body: Json = {}
  try {
    const parsed: unknown = JSON.parse(raw)
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Json
  }
  catch { /* not JSON */ }
  const details = detailsOf(body)
  // The message goes to the admin's view of the account only, never decides anything.
  const message = String((body.error as Json | undefined)?.message ?? '').slice(0, 200)
  const detail = message ? `: ${message}` : ''
  if (status === 429) {
    const retryAfter = retryDelaySeconds(details) || Number(headers['retry-after']) || 0
    return { state: 'rate_limited', reason: `upstream 429${detail}`, since: now, until: now + Math.max(1000, retryAfter ? retryAfter * 1000 : d.rateLimitedDefaultMs) }
  }
  const keyInvalid = status === 400 && details.some(x => x['@type'] === ERROR_INFO && x.reason === 'API_KEY_INVALID')
  if (status === 401 || keyInvalid) {
    return { state: 'error', reason: `upstream refused the account's credentials (${status})${detail}`, since: now, until: 0 }
  }
  if (status >= 500) return { state: 'cooldown', reason: `upstream ${status}${detail}`, since: now, until: now + d.cooldownMs }
  return null
}
