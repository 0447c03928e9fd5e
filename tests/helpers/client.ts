import { type IncomingHttpHeaders, request } from 'node:http'

/** A response read to the end by rawRequest. */
export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

export interface RawRequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Send the body with Transfer-Encoding: chunked instead of a content-length. */
  chunked?: boolean
}

/**
 * One HTTP request over node:http on a fresh connection, with exactly the headers given (node adds
 * only host, connection and content-length / transfer-encoding). Unlike fetch it lets a test send
 * cookies, omit user-agent, and control how the body is framed.
 */
export function rawRequest(url: string, opts: RawRequestOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'POST', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (opts.body === undefined) return void req.end()
    if (opts.chunked) {
      req.setHeader('transfer-encoding', 'chunked')
      req.write(opts.body)
      return void req.end()
    }
    req.end(opts.body)
  })
}

/** Calls `fn` until `done(value)` holds or `ms` pass; returns the last value (the caller asserts on it). */
export async function pollUntil<T>(fn: () => Promise<T>, done: (v: T) => boolean, ms = 2000): Promise<T> {
  const until = Date.now() + ms
  let v = await fn()
  while (!done(v) && Date.now() < until) {
    await new Promise(r => setTimeout(r, 25))
    v = await fn()
  }
  return v
}

/** A Messages-API request body (JSON text). */
export function messageBody(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }], ...fields })
}
