import type { ServerResponse } from 'node:http'

/** Anthropic's error types, by the status codes the relay answers with. */
export type AnthropicErrorType
  = | 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error'
    | 'request_too_large' | 'rate_limit_error' | 'api_error' | 'overloaded_error' | 'timeout_error'

/** The error body in Anthropic's own shape. */
function anthropicErrorBody(type: AnthropicErrorType, message: string): string {
  return JSON.stringify({ type: 'error', error: { type, message } })
}

/** Answer with an Anthropic-shaped error (only if nothing was sent yet). */
export function sendAnthropicError(res: ServerResponse, status: number, type: AnthropicErrorType, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  const body = anthropicErrorBody(type, message)
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** An SSE `error` event, as Anthropic sends when a stream fails after it started. */
export function sseErrorEvent(type: AnthropicErrorType, message: string): string {
  return `event: error\ndata: ${anthropicErrorBody(type, message)}\n\n`
}
