import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { BodyTooLargeError, readBodyLimited } from '../upstream/body'

// h3 v1 keeps a request's raw body under this symbol and its readRawBody (hence readBody and
// readValidatedBody) returns what is there instead of reading the socket again.
const H3_RAW_BODY = Symbol.for('h3RawBody')

/** Methods whose body h3's readBody would read (it refuses the others). */
const PAYLOAD_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** `%XX` escapes of ASCII decoded, others left as they are (never throws). */
const decodeAscii = (s: string) => s.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))

/**
 * Whether `path` (as sent, query included) is under `/api/admin`. Nitro's router matches the
 * decoded path (`/api/%61dmin/…` reaches the admin routes), so the check decodes too. A path that
 * does not decode counts as admin when it starts like one, so nothing slips past the guard on a
 * malformed escape — and a malformed escape elsewhere stays the other route's (its own 404).
 */
export function isAdminPath(path: string): boolean {
  const raw = path.split('?')[0] ?? ''
  let decoded: string
  try {
    decoded = decodeURIComponent(raw)
  }
  catch {
    return decodeAscii(raw).replace(/\/{2,}/g, '/').toLowerCase().startsWith('/api/admin')
  }
  const p = decoded.replace(/\/{2,}/g, '/').toLowerCase()
  return p === '/api/admin' || p.startsWith('/api/admin/')
}

export function hasBody(req: Pick<IncomingMessage, 'headers'>): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined
}

/** A declared content-length over `limit`: refuse before reading a byte. */
export function declaresTooMuch(req: Pick<IncomingMessage, 'headers'>, limit: number): boolean {
  return Number(req.headers['content-length'] ?? 0) > limit
}

export const tooLargeMessage = (limit: number) =>
  `Request body too large: the admin API takes at most ${Math.floor(limit / 1024)} KB (ADMIN_MAX_BODY_KB).`

/**
 * Read the body with a running bound and leave the bytes where h3 looks for them, so handlers'
 * readBody/readValidatedBody parse this copy instead of buffering the socket without a limit.
 * Rejects with BodyTooLargeError as soon as the body passes `limit`.
 */
export async function bufferBoundedBody(req: IncomingMessage, limit: number): Promise<void> {
  if (!PAYLOAD_METHODS.has(req.method ?? '') || !hasBody(req)) return
  const body = await readBodyLimited(req, limit)
  ;(req as IncomingMessage & { [H3_RAW_BODY]?: Promise<Buffer> })[H3_RAW_BODY] = Promise.resolve(body)
}

/** How long a refused request's connection may still deliver (discarded) bytes after the answer. */
const LINGER_MS = 2000

/**
 * Close a connection whose request body is refused the way HTTP servers "linger": send the answer
 * and FIN, discard what the client still sends for at most LINGER_MS, then destroy. Destroying at
 * once (Node's `destroySoon` after a `connection: close` answer) resets a connection with unread
 * bytes, and a TCP reset makes the client drop the 413 it has not read yet. Node's server calls
 * `socket.destroySoon` when it is a function, so this socket gets its own.
 */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => {
    socket.end()
    const timer = setTimeout(() => socket.destroy(), LINGER_MS)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }
}

export { BodyTooLargeError }
