import type { ServerResponse } from 'node:http'
import { defineEventHandler, type EventHandlerRequest, type H3Event } from 'h3'
import { useLogger } from '../../logging'
import { type Fail, type FailKind, STORE_RETRY_AFTER, STORE_UNAVAILABLE } from '../../relay/steps'
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

export function sendGoogleError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
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
      useLogger().error({ err, path: event.path.split('?')[0] }, 'gemini relay handler failed')
      sendGoogleError(event.node.res, 500, 'Internal relay error.')
    }
  })
}
