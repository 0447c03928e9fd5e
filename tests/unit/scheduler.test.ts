import { describe, expect, it } from 'vitest'
import { AccountRoster, pickAccount, type Schedulable } from '../../server/accounts/scheduler'

const acc = (id: string, priority = 50, isActive = true): Schedulable => ({ id, priority, isActive })
const T0 = 1_700_000_000_000

/** Pick `times` times, one millisecond apart; returns the chosen ids. */
function picks(accounts: Schedulable[], times: number, lastUsed = new Map<string, number>(), start = T0): (string | null)[] {
  return Array.from({ length: times }, (_, i) => pickAccount(accounts, lastUsed, start + i)?.id ?? null)
}

describe('pickAccount', () => {
  it.each([
    ['lowest priority first', [acc('a', 50), acc('b', 10), acc('c', 30)], 'b'],
    ['lowest priority wins even when listed last', [acc('a', 2), acc('b', 3), acc('c', 1)], 'c'],
    ['negative priority beats zero', [acc('a', 0), acc('b', -1)], 'b'],
    ['inactive accounts are skipped', [acc('a', 1, false), acc('b', 5)], 'b'],
    ['equal priority, never used: lowest id', [acc('m'), acc('c'), acc('x')], 'c'],
    ['one active account', [acc('only')], 'only'],
  ])('%s', (_label, accounts, expected) => {
    expect(pickAccount(accounts, new Map(), T0)?.id).toBe(expected)
  })

  it.each([
    ['no accounts', []],
    ['only inactive accounts', [acc('a', 1, false), acc('b', 2, false)]],
  ])('returns null for %s and marks nothing used', (_label, accounts) => {
    const lastUsed = new Map<string, number>()
    expect(pickAccount(accounts, lastUsed, T0)).toBeNull()
    expect(lastUsed.size).toBe(0)
  })

  it('marks the chosen account used at `now`', () => {
    const lastUsed = new Map<string, number>()
    const picked = pickAccount([acc('a'), acc('b')], lastUsed, T0 + 5)
    expect(lastUsed.get(picked!.id)).toBe(T0 + 5)
    expect(lastUsed.size).toBe(1)
  })

  it('rotates round-robin over equal-priority accounts', () => {
    const pool = [acc('a'), acc('b'), acc('c')]
    const ids = pool.map(a => a.id).sort()
    const got = picks(pool, 9)
    expect(got).toEqual([...ids, ...ids, ...ids])
  })

  it('rotates round-robin even when every pick happens in the same millisecond', () => {
    const pool = [acc('b'), acc('a'), acc('c')]
    const lastUsed = new Map<string, number>()
    const got = Array.from({ length: 6 }, () => pickAccount(pool, lastUsed, T0)!.id)
    expect(new Set(got.slice(0, 3)).size).toBe(3)
    expect(got.slice(3)).toEqual(got.slice(0, 3))
  })

  it('picks the least recently used among equals', () => {
    const lastUsed = new Map([['a', T0 - 10], ['b', T0 - 30], ['c', T0 - 20]])
    expect(pickAccount([acc('a'), acc('b'), acc('c')], lastUsed, T0)?.id).toBe('b')
  })

  it('a never-used account goes before used ones of the same priority', () => {
    const lastUsed = new Map([['a', T0 - 1], ['b', T0 - 2]])
    expect(pickAccount([acc('a'), acc('b'), acc('z')], lastUsed, T0)?.id).toBe('z')
  })

  it('keeps using the best-priority account however recently it was used', () => {
    const pool = [acc('primary', 1), acc('backup', 2)]
    expect(picks(pool, 5)).toEqual(Array.from({ length: 5 }, () => 'primary'))
  })

  it('rotates only within the best priority, skipping inactive ones', () => {
    const pool = [acc('a', 1), acc('b', 1, false), acc('c', 1), acc('d', 2)]
    expect(picks(pool, 4)).toEqual(['a', 'c', 'a', 'c'])
  })

  it('falls back to the next priority when the best ones are inactive', () => {
    const pool = [acc('a', 1, false), acc('d', 2), acc('e', 2)]
    expect(picks(pool, 4)).toEqual(['d', 'e', 'd', 'e'])
  })

  it('does not depend on the order of the list', () => {
    const pool = [acc('d', 5), acc('a', 5), acc('c', 1, false), acc('b', 5)]
    const forward = picks(pool, 4)
    const backward = picks([...pool].reverse(), 4)
    expect(backward).toEqual(forward)
    expect(forward).toEqual(['a', 'b', 'd', 'a'])
  })
})

describe('AccountRoster', () => {
  /** A loader that counts its calls and returns whatever `current` holds at that moment. */
  function counter(initial: Schedulable[]) {
    const state = { calls: 0, current: initial, gate: null as Promise<void> | null }
    const load = async () => {
      state.calls++
      const snapshot = state.current
      if (state.gate) await state.gate
      return snapshot
    }
    return { state, load }
  }

  it('loads once and serves later calls from its cache', async () => {
    const { state, load } = counter([acc('a')])
    const pool = new AccountRoster(load, 30_000)
    const first = await pool.all(T0)
    state.current = [acc('changed')]
    const second = await pool.all(T0 + 1000)
    expect(state.calls).toBe(1)
    expect(second).toBe(first)
    expect(second.map(a => a.id)).toEqual(['a'])
  })

  it('reloads after invalidate()', async () => {
    const { state, load } = counter([acc('a')])
    const pool = new AccountRoster(load, 30_000)
    await pool.all(T0)
    state.current = [acc('b')]
    pool.invalidate()
    expect((await pool.all(T0 + 1)).map(a => a.id)).toEqual(['b'])
    expect(state.calls).toBe(2)
    await pool.all(T0 + 2)
    expect(state.calls).toBe(2)
  })

  it('reloads once the cache is maxAgeMs old, not before', async () => {
    const maxAge = 5000
    const { state, load } = counter([acc('a')])
    const pool = new AccountRoster(load, maxAge)
    await pool.all(T0)
    state.current = [acc('b')]
    expect((await pool.all(T0 + maxAge - 1)).map(a => a.id)).toEqual(['a'])
    expect(state.calls).toBe(1)
    expect((await pool.all(T0 + maxAge)).map(a => a.id)).toEqual(['b'])
    expect(state.calls).toBe(2)
    // The age is counted from the reload.
    expect((await pool.all(T0 + 2 * maxAge - 1)).map(a => a.id)).toEqual(['b'])
    expect(state.calls).toBe(2)
  })

  it('shares one load between concurrent calls', async () => {
    const { state, load } = counter([acc('a'), acc('b')])
    let open!: () => void
    state.gate = new Promise<void>((r) => {
      open = r
    })
    const pool = new AccountRoster(load, 30_000)
    const pending = Array.from({ length: 10 }, () => pool.all(T0))
    open()
    const results = await Promise.all(pending)
    expect(state.calls).toBe(1)
    for (const r of results) expect(r).toBe(results[0])
  })

  it('shares one load between concurrent pick() calls, and they rotate', async () => {
    const { state, load } = counter([acc('a'), acc('b'), acc('c')])
    const pool = new AccountRoster(load, 30_000)
    const got = await Promise.all([pool.pick(undefined, T0), pool.pick(undefined, T0 + 1), pool.pick(undefined, T0 + 2)])
    expect(state.calls).toBe(1)
    expect(new Set(got.map(a => a!.id)).size).toBe(3)
  })

  it('an invalidate() during a load forces another load next time', async () => {
    const { state, load } = counter([acc('old')])
    let open!: () => void
    state.gate = new Promise<void>((r) => {
      open = r
    })
    const pool = new AccountRoster(load, 30_000)
    const inFlight = pool.all(T0)
    pool.invalidate()
    state.current = [acc('new')]
    open()
    expect((await inFlight).map(a => a.id)).toEqual(['old'])
    state.gate = null
    expect((await pool.all(T0 + 1)).map(a => a.id)).toEqual(['new'])
    expect(state.calls).toBe(2)
  })

  it('retries after a failed load', async () => {
    let calls = 0
    const pool = new AccountRoster(async () => {
      calls++
      if (calls === 1) throw new Error('redis down')
      return [acc('a')]
    }, 30_000)
    await expect(pool.all(T0)).rejects.toThrow('redis down')
    expect((await pool.all(T0 + 1)).map(a => a.id)).toEqual(['a'])
    expect(calls).toBe(2)
  })

  it('pick() returns null for an empty pool and an account otherwise', async () => {
    expect(await new AccountRoster(async () => [], 30_000).pick(undefined, T0)).toBeNull()
    expect((await new AccountRoster(async () => [acc('x', 1, false), acc('y')], 30_000).pick(undefined, T0))?.id).toBe('y')
  })
})

describe('pickAccount with states and exclusions', () => {
  const now = 1_800_000_000_000
  const a = (id: string, priority: number, state?: Schedulable['state']): Schedulable => ({ id, priority, isActive: true, state })
  it('skips an account while its state runs, and takes it back when it ends', () => {
    const limited = a('a', 1, { state: 'rate_limited', reason: '429', since: now - 1000, until: now + 60_000 })
    const pool = [limited, a('b', 5)]
    expect(pickAccount(pool, new Map(), now)?.id).toBe('b')
    expect(pickAccount(pool, new Map(), now + 60_000)?.id).toBe('a')
  })
  it('never takes back a state that lasts until reset (until = 0)', () => {
    const blocked = a('a', 1, { state: 'blocked', reason: '403', since: now, until: 0 })
    expect(pickAccount([blocked], new Map(), now + 1e9)).toBeNull()
  })
  it('skips excluded accounts (already tried for this request)', () => {
    expect(pickAccount([a('a', 1), a('b', 2)], new Map(), now, new Set(['a']))?.id).toBe('b')
    expect(pickAccount([a('a', 1)], new Map(), now, new Set(['a']))).toBeNull()
  })
})
