import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'

export type Outcome = 'done' | 'aborted' | 'failed'

/** Something that reads a response beside the client (a usage tap). */
export interface Tap { push(chunk: Buffer): void, end(): void }

/**
 * Copy upstream bytes to the client as they come, feeding the tap; honours back-pressure. When the
 * upstream breaks mid-body, `onBroken` ends the response the protocol's way (else it is cut off).
 */
export function pump(src: Readable, res: ServerResponse, tap: Tap | null, onBroken: (() => void) | null): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false
    const finish = (o: Outcome) => {
      if (settled) return
      settled = true
      tap?.end()
      resolve(o)
    }
    src.on('data', (chunk: Buffer) => {
      tap?.push(chunk)
      if (!res.write(chunk)) src.pause()
    })
    res.on('drain', () => src.resume())
    src.once('end', () => {
      res.end()
      finish('done')
    })
    src.once('error', () => {
      if (res.writableEnded || res.destroyed) return finish('aborted')
      if (onBroken) onBroken()
      else res.destroy()
      finish('failed')
    })
    res.once('close', () => {
      if (res.writableFinished) return
      src.destroy()
      finish('aborted')
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
