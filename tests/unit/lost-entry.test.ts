import { describe, expect, it } from 'vitest'
import { rk } from '../../server/store/keys'
import { inflightEntry, inflightMark, instanceId, parseLostEntry } from '../../server/usage/lost'

// The in-flight entry and the lost entry the reapLost script makes of it (it appends
// `"detectedAt":<ms>` before the closing brace): one builder, one parser.
const withDetectedAt = (entry: string, ms: number) => `${entry.slice(0, -1)},"detectedAt":${ms}}`

describe('in-flight and lost entries', () => {
  it.each([
    { keyId: 'k1', accountId: 'a1', model: 'claude-sonnet-4-5', startedAt: 1_700_000_000_000, protocol: 'anthropic' as const },
    { keyId: 'k2', accountId: '', model: '', startedAt: 5, protocol: 'gemini' as const },
  ])('round-trips $protocol with detectedAt appended', (e) => {
    const entry = inflightEntry(e)
    expect(entry.endsWith('}')).toBe(true)
    expect(parseLostEntry('req-1', withDetectedAt(entry, 42))).toEqual({ ...e, requestId: 'req-1', detectedAt: 42 })
  })

  it.each(['', 'not json', '[]', 'null', '{"accountId":"a"}', '{"keyId":7}'])('refuses %j', (value) => {
    expect(parseLostEntry('r', value)).toBeNull()
  })

  it('marks a request in this instance\'s in-flight hash, started now', () => {
    const m = inflightMark('req-9', { keyId: 'k', accountId: 'a', model: 'm', protocol: 'anthropic' }, 1234)
    expect(instanceId).toMatch(/^[0-9a-f]{16}$/)
    expect(m.hash).toBe(rk.inflight(instanceId))
    expect(m.requestId).toBe('req-9')
    expect(JSON.parse(m.entry)).toEqual({ keyId: 'k', accountId: 'a', model: 'm', startedAt: 1234, protocol: 'anthropic' })
  })
})
