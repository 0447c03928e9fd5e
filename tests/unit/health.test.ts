import { describe, expect, it } from 'vitest'
import { AccountHealth } from '../../server/accounts/health'

const feed = (h: AccountHealth, id: string, n: number, ttfbMs: number, ok = true) => {
  for (let i = 0; i < n; i++) h.record(id, ok, ttfbMs)
}

describe('AccountHealth', () => {
  it('needs enough samples before judging', () => {
    const h = new AccountHealth()
    feed(h, 'a', 7, 5000)
    feed(h, 'b', 20, 100)
    expect(h.degraded('a', ['a', 'b'])).toBe(false)
    h.record('a', true, 5000)
    expect(h.degraded('a', ['a', 'b'])).toBe(true)
  })

  it.each([
    ['3× slower and 250 ms worse', 900, 200, true],
    ['3× slower but only 150 ms worse', 240, 60, false],
    ['250 ms worse but not 3× slower', 700, 400, false],
    ['as fast as its peers', 200, 200, false],
  ])('%s → degraded %s', (_, mine, peers, expected) => {
    const h = new AccountHealth()
    feed(h, 'a', 10, mine)
    feed(h, 'b', 10, peers)
    feed(h, 'c', 10, peers)
    expect(h.degraded('a', ['a', 'b', 'c'])).toBe(expected)
  })

  it('fails over half the time → degraded, whatever its speed', () => {
    const h = new AccountHealth()
    feed(h, 'a', 5, 10, true)
    feed(h, 'a', 6, 10, false)
    expect(h.stats('a').errorRate).toBeCloseTo(6 / 11)
    expect(h.degraded('a', ['a'])).toBe(true)
  })

  it('recovers as new samples replace the old (last 50)', () => {
    const h = new AccountHealth()
    feed(h, 'a', 50, 2000)
    feed(h, 'b', 50, 100)
    expect(h.degraded('a', ['a', 'b'])).toBe(true)
    feed(h, 'a', 30, 100)
    expect(h.stats('a').samples).toBe(50)
    expect(h.degraded('a', ['a', 'b'])).toBe(false)
  })
})
