import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { UpstreamBody } from './answer'

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
export function pump(src: Readable | UpstreamBody, res: ServerResponse, tap: Tap | null, onBroken: (() => void) | null, relay: (chunk: Buffer) => boolean = chunk => res.write(chunk)): Promise<Outcome> {
  const body = src instanceof UpstreamBody ? src : fromReadable(src)
  return new Promise((resolve) => {
    let settled = false
    let clientGone = false
    let tapEnded = false
    let idle: NodeJS.Timeout | undefined
    let cap: NodeJS.Timeout | undefined
    const endTap = () => {
      if (tapEnded) return
      tapEnded = true
      tap?.end()
    }
    const finish = (o: Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(idle)
      clearTimeout(cap)
      endTap()
      resolve(o)
    }
    // After the client left: the body is read for the tap only, then closed.
    const stop = () => {
      body.destroy()
      finish('aborted')
    }
    const bump = () => {
      clearTimeout(idle)
      idle = setTimeout(stop, DRAIN_IDLE_MS)
    }
    res.on('drain', () => body.resume())
    res.once('close', () => {
      if (res.writableFinished) return
      clientGone = true
      if (!tap) return stop()
      cap = setTimeout(stop, DRAIN_MAX_MS)
      bump()
      body.resume()
    })
    body.pipeTo({
      data(chunk) {
        tap?.push(chunk)
        if (!clientGone) return relay(chunk)
        bump()
        return true
      },
      end() {
        if (clientGone) return stop()
        endTap()
        res.end()
        finish('done')
      },
      error() {
        if (res.writableEnded || res.destroyed) return finish('aborted')
        if (onBroken) onBroken()
        else res.destroy()
        finish('failed')
      },
    })
  })
}

/** A Node stream read the way an upstream body is (the pump reads both). */
function fromReadable(r: Readable): Pick<UpstreamBody, 'pipeTo' | 'resume' | 'destroy'> {
  return {
    pipeTo(sink) {
      r.on('data', (chunk: Buffer) => {
        if (!sink.data(chunk)) r.pause()
      })
      r.once('end', () => sink.end())
      r.once('error', err => sink.error(err))
    },
    resume: () => void r.resume(),
    destroy: () => void r.destroy(),
  }
}

/** The whole body, keeping at most `max` bytes (the rest is read and dropped). */
export async function readBounded(src: Readable | UpstreamBody, max: number): Promise<Buffer> {
  if (src instanceof UpstreamBody) return src.readAll(max)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of src as AsyncIterable<Buffer>) {
    if (size < max) chunks.push(chunk)
    size += chunk.length
  }
  return Buffer.concat(chunks).subarray(0, max)
}
