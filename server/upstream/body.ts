import type { IncomingMessage } from 'node:http'

/** The request body exceeded the configured limit. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`Request body exceeds the ${Math.round((limit / 1024 / 1024) * 100) / 100} MB limit (REQUEST_MAX_SIZE_MB).`)
  }
}

/**
 * Read a request body into one Buffer, refusing early: a declared content-length over the limit
 * fails before a byte is read, and a chunked body fails as soon as it passes the limit. The rest
 * is drained and discarded (not destroyed), so the 413 answer still reaches the client.
 */
export function readBodyLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > limit) {
      req.resume()
      return reject(new BodyTooLargeError(limit))
    }
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    const onData = (chunk: Buffer) => {
      if (failed) return
      size += chunk.length
      if (size > limit) {
        failed = true
        chunks.length = 0
        return reject(new BodyTooLargeError(limit))
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.once('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    })
    req.once('error', reject)
  })
}
