import type { ServerResponse } from 'node:http'
import { defineEventHandler, type EventHandlerRequest, type H3Event } from 'h3'
import { useLogger } from '../../logging'
import { type Fail, type FailKind, isTooDeep, STORE_RETRY_AFTER, STORE_UNAVAILABLE, TOO_DEEP } from '../../relay/steps'
import { isStoreOutage } from '../../store/redis'
import { errorBody } from './chunks'
import { OpenAIRequestError } from './types'

/** A failure to report to the client in OpenAI's error shape. */
export class OpenAIError extends Error {
  constructor(readonly status: number, readonly type: string, message: string, readonly code: string | null = null, readonly headers: Record<string, string> = {}, readonly param: string | null = null) {
    super(message)
  }
}

/** OpenAI's error type and code for each refusal the pipeline makes (the SDKs pick their exception by status). */
const OPENAI_ERROR: Record<FailKind, { type: string, code: string | null }> = {
  auth: { type: 'invalid_request_error', code: 'invalid_api_key' },
  permission: { type: 'permission_error', code: 'permission_denied' },
  rate_limit: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  invalid: { type: 'invalid_request_error', code: null },
  too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  unavailable: { type: 'server_error', code: 'service_unavailable' },
  no_account: { type: 'server_error', code: 'no_account_available' },
  upstream: { type: 'server_error', code: null },
  timeout: { type: 'server_error', code: 'timeout' },
}

export const openaiFail: Fail = (status, kind, message, headers) => new OpenAIError(status, OPENAI_ERROR[kind].type, message, OPENAI_ERROR[kind].code, headers)

/** Answer with an OpenAI-shaped error (only if nothing was sent yet). */
export function sendOpenAIError(res: ServerResponse, status: number, err: { type: string, message: string, code?: string | null, param?: string | null }, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  const body = JSON.stringify(errorBody(err.message, err.type, err.param ?? null, err.code ?? null))
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/**
 * A handler for OpenAI-protocol routes: OpenAIError and a translator's OpenAIRequestError become
 * OpenAI's error shape with their status; anything else is logged and answered as a 500. With
 * `method`, other methods get 405.
 */
export function defineOpenAIHandler<T>(fn: (event: H3Event<EventHandlerRequest>) => Promise<T>, method?: 'GET' | 'POST') {
  return defineEventHandler(async (event) => {
    const { res } = event.node
    try {
      if (method && event.method !== method) throw new OpenAIError(405, 'invalid_request_error', `Method ${event.method} is not allowed here; use ${method}.`, 'method_not_allowed', { allow: method })
      return await fn(event)
    }
    catch (err) {
      if (err instanceof OpenAIError) return sendOpenAIError(res, err.status, err, err.headers)
      if (err instanceof OpenAIRequestError) return sendOpenAIError(res, 400, { type: 'invalid_request_error', message: err.message, code: err.code, param: err.param })
      if (isStoreOutage(err)) return sendOpenAIError(res, 503, { type: 'server_error', message: STORE_UNAVAILABLE, code: 'service_unavailable' }, STORE_RETRY_AFTER)
      if (isTooDeep(err)) return sendOpenAIError(res, 400, { type: 'invalid_request_error', message: TOO_DEEP })
      useLogger().error({ err, path: event.path.split('?')[0] }, 'openai relay handler failed')
      sendOpenAIError(res, 500, { type: 'server_error', message: 'Internal relay error.' })
    }
  })
}

/** Catch-all for unknown OpenAI-protocol paths: 404 in OpenAI's shape. */
export const openaiNotFound = defineOpenAIHandler(async (event) => {
  throw new OpenAIError(404, 'invalid_request_error', `Unknown request URL: ${event.method} ${event.path.split('?')[0]}.`, 'unknown_url')
})
