import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { clientDeadline, waitOrMove } from '../../server/protocols/anthropic/cache-wait'

describe('cache-aware failover: wait for the reset or move', () => {
  const o = { maxMs: 5000, minTokens: 10_000, deadlineInMs: null }
  it.each([
    ['a large prefix, reset in 2 s: wait', 2000, 30_000, o, { choice: 'wait', ms: 2000 }],
    ['exactly at the maximum wait: wait', 5000, 30_000, o, { choice: 'wait', ms: 5000 }],
    ['just past the maximum wait: move', 5001, 30_000, o, { choice: 'move' }],
    ['a small prefix: no choice to make (fail over as always)', 1000, 9_999, o, null],
    ['waiting is off (CACHE_WAIT_MAX_SECONDS=0)', 1000, 30_000, { ...o, maxMs: 0 }, null],
    ['the client gives up in 3 s: a 2 s wait would leave too little', 2000, 30_000, { ...o, deadlineInMs: 3000 }, { choice: 'move' }],
    ['the client gives up in 10 s: a 2 s wait is fine', 2000, 30_000, { ...o, deadlineInMs: 10_000 }, { choice: 'wait', ms: 2000 }],
    ['a reset already past: move (the account is usable again, the loop retries elsewhere)', -1, 30_000, o, { choice: 'move' }],
  ] as const)('%s', (_, resetIn, prefix, opts, expected) => {
    expect(waitOrMove(resetIn, prefix, opts)).toEqual(expected)
  })
})

describe('clientDeadline (x-stainless-timeout, seconds)', () => {
  const req = (v?: string) => ({ headers: v === undefined ? {} : { 'x-stainless-timeout': v } }) as unknown as IncomingMessage
  it.each([
    [undefined, null],
    ['600', 1000 + 600_000],
    ['1.5', 1000 + 1500],
    ['0', null],
    ['-5', null],
    ['abc', null],
    ['1e9', null],
  ])('%s → %s', (v, expected) => {
    expect(clientDeadline(req(v), 1000)).toBe(expected)
  })
})
