import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'

export type Outcome = 'done' | 'aborted' | 'failed'

/** Something that reads a response beside the client (a usage tap). */
export interface Tap { push(chunk: Buffer): void, end(): void }

/**
 * A stream's headers go out with its first chunk — one write to the client instead of two — when
 * that chunk is already here (an upstream sends both together); else at the end of this turn of
 * the event loop, so a slow first event never holds them.
 */
export function sendHeadersSoon(res: ServerResponse): void {
  // (`headersSent` is already true once writeHead stored them; flushing after they went out with
  // a chunk writes nothing.)
  setImmediate(() => {
    if (!res.writableEnded && !res.destroyed) res.flushHeaders()
  })
}

/** After the client left: read on (for the tap only) while bytes keep coming this often … */
const DRAIN_IDLE_MS = 200
/** … but no longer than this. */
const DRAIN_MAX_MS = 1000

/**
 * Copy upstream bytes to the client as they come, feeding the tap; honours back-pressure. When the
 * upstream breaks mid-body, `onBroken` ends the response the protocol's way (else it is cut off).
 * When the client leaves, a tapped body is read on briefly before it is closed — what the upstream
 * already sent (a slow reader leaves much of it in buffers, the final usage included) is parsed, so
 * usage is what the upstream reported, not what reached the client. The pump then owns the body:
 * callers must not abort the upstream request once it started (see the protocols' close handlers).
 * `relay` writes one chunk to the client and says whether to go on reading (default: the bytes as
 * they came). A translating protocol passes its translator as the tap, writing the client's bytes
 * itself (`relay` then only reports back-pressure); the tap ends before the response does, so what
 * it writes at the end still reaches the client.
 */
export function pump(src: Readable, res: ServerResponse, tap: Tap | null, onBroken: (() => void) | null, relay: (chunk: Buffer) => boolean = chunk => res.write(chunk)): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false
    let clientGone = false
    let tapEnded = false
    const endTap = () => {
      if (tapEnded) return
      tapEnded = true
      tap?.end()
    }
    const finish = (o: Outcome) => {
      if (settled) return
      settled = true
      endTap()
      resolve(o)
    }
    const forward = (chunk: Buffer) => {
      tap?.push(chunk)
      if (!relay(chunk)) src.pause()
    }
    src.on('data', forward)
    res.on('drain', () => src.resume())
    src.once('end', () => {
      endTap()
      if (!clientGone) res.end()
      finish(clientGone ? 'aborted' : 'done')
    })
    src.once('error', () => {
      if (res.writableEnded || res.destroyed) return finish('aborted')
      if (onBroken) onBroken()
      else res.destroy()
      finish('failed')
    })
    res.once('close', () => {
      if (res.writableFinished) return
      clientGone = true
      if (!tap) {
        src.destroy()
        return finish('aborted')
      }
      let idle: NodeJS.Timeout | undefined
      const stop = () => {
        clearTimeout(idle)
        clearTimeout(cap)
        src.destroy()
        finish('aborted')
      }
      const cap = setTimeout(stop, DRAIN_MAX_MS)
      const bump = () => {
        clearTimeout(idle)
        idle = setTimeout(stop, DRAIN_IDLE_MS)
      }
      src.off('data', forward)
      src.on('data', (chunk: Buffer) => {
        tap.push(chunk)
        bump()
      })
      src.once('end', stop)
      bump()
      src.resume()
    })
  })
}

export async function readBounded(src: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of src as AsyncIterable<Buffer>) {
    if (size < max) chunks.push(chunk)
    size += chunk.length
  }
  return Buffer.concat(chunks).subarray(0, max)
}
