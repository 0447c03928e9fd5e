import { describe, expect, it } from 'vitest'
import { type BodySink, UpstreamBody } from '../../server/upstream/answer'

/** A body with its upstream side recorded: how often it was resumed, what it was aborted with. */
function body() {
  const up = { resumed: 0, aborted: null as Error | null, aborts: 0 }
  const b = new UpstreamBody(() => void up.resumed++, (err) => {
    up.aborted = err
    up.aborts++
  })
  return { b, up }
}

/** A reader that records what it got and takes `budget` chunks before saying "enough". */
interface Reader { got: string[], budget: number, ended: boolean, error: Error | null, sink: BodySink }

function reader(budget = Infinity): Reader {
  const got: string[] = []
  const r: Reader = {
    got, budget, ended: false, error: null as Error | null,
    sink: {
      data(chunk: Buffer) {
        got.push(chunk.toString())
        return --r.budget > 0
      },
      end() {
        r.ended = true
      },
      error(err: Error) {
        r.error = err
      },
    },
  }
  return r
}

const buf = (s: string) => Buffer.from(s)

describe('UpstreamBody', () => {
  it('keeps chunks that come before the reader (the upstream reads on up to 64 KiB), then hands them over in order', () => {
    const { b, up } = body()
    expect(b.chunk(buf('a'))).toBe(true) // a stream's first event, come with its headers
    expect(b.chunk(buf('b'))).toBe(true)
    b.complete()
    const r = reader()
    b.pipeTo(r.sink)
    expect(r.got).toEqual(['a', 'b'])
    expect(r.ended).toBe(true)
    expect(up.resumed).toBe(0) // never held back
  })

  it('holds the upstream back past 64 KiB without a reader, and lets it read on once the reader took them', () => {
    const { b, up } = body()
    expect(b.chunk(Buffer.alloc(40 * 1024))).toBe(true)
    expect(b.chunk(Buffer.alloc(40 * 1024))).toBe(false)
    const r = reader()
    b.pipeTo(r.sink)
    expect(r.got).toHaveLength(2)
    expect(up.resumed).toBe(1)
    expect(b.chunk(buf('c'))).toBe(true)
    b.complete()
    expect(r.got.at(-1)).toBe('c')
    expect(r.ended).toBe(true)
  })

  it('passes chunks straight through to a reader that takes them', () => {
    const { b, up } = body()
    b.chunk(buf('a'))
    const r = reader()
    b.pipeTo(r.sink)
    expect(b.chunk(buf('b'))).toBe(true)
    b.complete()
    expect(r.got).toEqual(['a', 'b'])
    expect(r.ended).toBe(true)
    expect(up.resumed).toBe(0)
  })

  it('a reader that says "enough" holds the upstream back; resume() delivers what came meanwhile, then the end', () => {
    const { b, up } = body()
    const r = reader(1)
    b.pipeTo(r.sink)
    expect(b.chunk(buf('a'))).toBe(false) // taken, but the reader is full
    expect(b.chunk(buf('b'))).toBe(false) // held
    b.complete()
    expect(r.got).toEqual(['a'])
    expect(r.ended).toBe(false) // not before the held chunk
    r.budget = Infinity
    b.resume()
    expect(r.got).toEqual(['a', 'b'])
    expect(r.ended).toBe(true)
    expect(up.resumed).toBe(0)
    b.resume() // nothing more happens
    expect(r.got).toEqual(['a', 'b'])
  })

  it('an error drops held chunks and reaches the reader once, after the current callback', async () => {
    const { b } = body()
    b.chunk(buf('a'))
    const r = reader(1)
    b.pipeTo(r.sink)
    b.chunk(buf('b'))
    b.fail(new Error('socket hang up'))
    b.fail(new Error('again'))
    expect(r.error).toBeNull()
    await Promise.resolve()
    expect(r.error?.message).toBe('socket hang up')
    r.budget = Infinity
    b.resume()
    b.complete()
    expect(r.got).toEqual(['a'])
    expect(r.ended).toBe(false)
  })

  it('an error before the reader is delivered when it comes', async () => {
    const { b } = body()
    b.fail(new Error('reset'))
    const r = reader()
    b.pipeTo(r.sink)
    await Promise.resolve()
    expect(r.error?.message).toBe('reset')
  })

  it('destroy() aborts the upstream and tells the reader nothing more', async () => {
    const { b, up } = body()
    const r = reader()
    b.pipeTo(r.sink)
    b.destroy()
    expect(up.aborted).toBeInstanceOf(Error)
    expect(b.chunk(buf('late'))).toBe(false)
    b.fail(new Error('aborted')) // undici answers the abort with an error
    b.complete()
    await Promise.resolve()
    expect(r.got).toEqual([])
    expect(r.error).toBeNull()
    expect(r.ended).toBe(false)
    b.destroy()
    expect(up.aborts).toBe(1)
  })

  it('has one reader', () => {
    const { b } = body()
    b.pipeTo(reader().sink)
    expect(() => b.pipeTo(reader().sink)).toThrow(/one reader/)
  })

  it('readAll keeps at most max bytes and reads the rest to the end', async () => {
    const { b } = body()
    const all = b.readAll(5)
    b.chunk(buf('abc'))
    b.chunk(buf('defg'))
    b.chunk(buf('hij'))
    b.complete()
    expect((await all).toString()).toBe('abcde')
  })

  it('readAll rejects when the body breaks', async () => {
    const { b } = body()
    const all = b.readAll(100)
    b.chunk(buf('abc'))
    b.fail(new Error('cut off'))
    await expect(all).rejects.toThrow('cut off')
  })

  it('readable() is a Node stream of the body, with back-pressure and errors', async () => {
    const { b, up } = body()
    const r = b.readable()
    up.resumed = 0
    let refused = 0
    // The upstream keeps sending after a "no" (as a socket's last read may): held, none lost.
    for (let i = 0; i < 40; i++) if (!b.chunk(Buffer.alloc(4096, 97 + (i % 26)))) refused++
    expect(refused).toBeGreaterThan(30) // past the stream's 16 KiB mark
    const it = r[Symbol.asyncIterator]()
    let bytes = 0
    while (bytes < 40 * 4096) bytes += ((await it.next()).value as Buffer).length
    expect(bytes).toBe(40 * 4096)
    expect(up.resumed).toBeGreaterThan(0) // drained: the upstream reads on
    b.complete()
    expect((await it.next()).done).toBe(true)

    const broken = body()
    const r2 = broken.b.readable()
    broken.b.chunk(buf('x'))
    broken.b.fail(new Error('gone'))
    await expect((async () => {
      for await (const _ of r2) { /* read */ }
    })()).rejects.toThrow('gone')
  })

  it('destroying the readable() aborts the upstream', () => {
    const { b, up } = body()
    const r = b.readable()
    r.destroy()
    expect(up.aborted).toBeInstanceOf(Error)
  })
})
