import { defineEventHandler, type EventHandlerRequest, type H3Event } from 'h3'
import { useLogger } from '../../logging'
import { isTooDeep, STORE_RETRY_AFTER, STORE_UNAVAILABLE, TOO_DEEP } from '../../relay/steps'
import { isStoreOutage } from '../../store/redis'
import { type AnthropicErrorType, sendAnthropicError } from './errors'

/** A failure to report to the client in Anthropic's error shape. */
export class AnthropicError extends Error {
  constructor(readonly status: number, readonly type: AnthropicErrorType, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

/**
 * An event handler for Claude-protocol routes: AnthropicError becomes Anthropic's error shape
 * with its status; anything else is logged and answered as a 500 `api_error`. With `method`,
 * other methods get 405 (route files omit the method suffix so they never fall through to a page).
 */
export function defineAnthropicHandler<T>(fn: (event: H3Event<EventHandlerRequest>) => Promise<T>, method?: 'GET' | 'POST') {
  return defineEventHandler(async (event) => {
    try {
      if (method && event.method !== method) throw new AnthropicError(405, 'invalid_request_error', `Method ${event.method} is not allowed here; use ${method}.`, { allow: method })
      return await fn(event)
    }
    catch (err) {
      if (err instanceof AnthropicError) return sendAnthropicError(event.node.res, err.status, err.type, err.message, err.headers)
      if (isStoreOutage(err)) return sendAnthropicError(event.node.res, 503, 'api_error', STORE_UNAVAILABLE, STORE_RETRY_AFTER)
      if (isTooDeep(err)) return sendAnthropicError(event.node.res, 400, 'invalid_request_error', TOO_DEEP)
      useLogger().error({ err, path: event.path }, 'relay handler failed')
      sendAnthropicError(event.node.res, 500, 'api_error', 'Internal relay error.')
    }
  })
}

/** Catch-all for unknown Claude-protocol paths: 404 in Anthropic's shape. */
export const anthropicNotFound = defineAnthropicHandler(async (event) => {
  throw new AnthropicError(404, 'not_found_error', `No such endpoint: ${event.method} ${event.path.split('?')[0]}.`)
})
