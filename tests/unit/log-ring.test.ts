import { describe, expect, it } from 'vitest'
import { LogRing } from '../../server/logging/ring'

const line = (i: number, level = 30) => JSON.stringify({ level, time: `t${i}`, msg: `line ${i}` })

describe('the in-memory log ring', () => {
  it('keeps the newest `size` lines, oldest first, across many wrap-arounds', () => {
    const ring = new LogRing(5)
    for (let i = 1; i <= 23; i++) ring.write(line(i))
    expect(ring.recent(100).map(l => l.msg)).toEqual(['line 19', 'line 20', 'line 21', 'line 22', 'line 23'])
    expect(ring.recent(2).map(l => l.msg)).toEqual(['line 22', 'line 23'])
  })

  it('before it is full, returns what it has in order', () => {
    const ring = new LogRing(5)
    for (let i = 1; i <= 3; i++) ring.write(line(i))
    expect(ring.recent(10).map(l => l.msg)).toEqual(['line 1', 'line 2', 'line 3'])
  })

  it('filters by level, newest `limit` of those, and skips a line that is not JSON', () => {
    const ring = new LogRing(10)
    ring.write(line(1, 40))
    ring.write('not json')
    for (let i = 2; i <= 6; i++) ring.write(line(i, i % 2 ? 50 : 30))
    expect(ring.recent(2, 40).map(l => l.msg)).toEqual(['line 3', 'line 5'])
    expect(ring.recent(10, 40).map(l => l.msg)).toEqual(['line 1', 'line 3', 'line 5'])
  })

  it('hands each new line, parsed, to the live listeners until they unsubscribe', () => {
    const ring = new LogRing(3)
    const seen: string[] = []
    const stop = ring.subscribe(l => seen.push(l.msg))
    ring.write(line(1))
    ring.write('{broken')
    ring.write(line(2))
    stop()
    ring.write(line(3))
    expect(seen).toEqual(['line 1', 'line 2'])
  })
})
