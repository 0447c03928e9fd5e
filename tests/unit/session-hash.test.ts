import { describe, expect, it } from 'vitest'
import { sessionHash } from '../../server/protocols/anthropic/session'

const body = (system: unknown, first: unknown, extra: Record<string, unknown> = {}) =>
  ({ model: 'm', messages: [{ role: 'user', content: first }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'next' }], system, ...extra })

describe('sessionHash (sticky routing)', () => {
  it('the session of Claude Code\'s metadata.user_id wins; the same session gives the same hash', () => {
    const a = sessionHash(body('s', 'q', { metadata: { user_id: 'user_abc_account__session_1234abcd-0000' } }))
    expect(a).toMatch(/^[\w-]{22}$/)
    expect(sessionHash(body('other', 'other', { metadata: { user_id: 'user_zzz_account__session_1234abcd-0000' } }))).toBe(a)
  })

  it('without metadata: the system prompt and the first user message; later turns do not change it', () => {
    const a = sessionHash(body('You are helpful.', 'What is 2+2?'))
    const later = body('You are helpful.', 'What is 2+2?')
    ;(later.messages as unknown[]).push({ role: 'assistant', content: '4' }, { role: 'user', content: 'and 3+3?' })
    expect(sessionHash(later)).toBe(a)
    expect(sessionHash(body('You are helpful.', 'What is 3+3?'))).not.toBe(a)
    expect(sessionHash(body('You are terse.', 'What is 2+2?'))).not.toBe(a)
    expect(sessionHash({ model: 'm' })).toBeNull()
  })

  it('content blocks count, and the question at the end of a long first message tells conversations apart', () => {
    const context = 'lorem ipsum '.repeat(10_000)
    const ask = (q: string) => body([{ type: 'text', text: 'sys' }], [{ type: 'text', text: `${context}${q}` }])
    expect(sessionHash(ask('Fix the bug in a.ts'))).not.toBe(sessionHash(ask('Fix the bug in b.ts')))
    expect(sessionHash(ask('Fix the bug in a.ts'))).toBe(sessionHash(ask('Fix the bug in a.ts')))
  })

  it('a deeply nested or huge body is bounded, never a RangeError', () => {
    let deep: unknown = 'x'
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(sessionHash(body(null, deep))).toMatch(/^[\w-]{22}$/)
    expect(sessionHash(body(null, Array.from({ length: 100_000 }, (_, i) => ({ type: 'text', text: String(i) }))))).toMatch(/^[\w-]{22}$/)
  })
})
