import { describe, expect, it } from 'vitest'
import { anthropicStateFromResponse, windowFromHeaders } from '../../server/protocols/anthropic/account-state'

const D = { overloadedMs: 60_000, cooldownMs: 30_000, rateLimitedDefaultMs: 3_600_000 }
const NOW = 1_700_000_000_000
const body = (type: string, message: string) => JSON.stringify({ type: 'error', error: { type, message } })

describe('anthropicStateFromResponse: account state from the status code (and Anthropic\'s headers), never the message', () => {
  it.each([
    // [label, status, headers, body, expected state (null: about the request), until]
    ['429 with the unified reset (unix s)', 429, { 'anthropic-ratelimit-unified-reset': String(NOW / 1000 + 600) }, body('rate_limit_error', 'x'), 'rate_limited', NOW + 600_000],
    ['429 with retry-after only', 429, { 'retry-after': '17' }, body('rate_limit_error', 'x'), 'rate_limited', NOW + 17_000],
    ['429 with neither: the default', 429, {}, body('rate_limit_error', 'x'), 'rate_limited', NOW + D.rateLimitedDefaultMs],
    ['429 with a reset already past: at least a second', 429, { 'anthropic-ratelimit-unified-reset': String(NOW / 1000 - 60) }, '', 'rate_limited', NOW + 1000],
    ['429 with a junk retry-after', 429, { 'retry-after': 'soon' }, '', 'rate_limited', NOW + D.rateLimitedDefaultMs],
    ['529 overloaded', 529, {}, body('overloaded_error', 'Overloaded'), 'overloaded', NOW + D.overloadedMs],
    ['500', 500, {}, body('api_error', 'Internal server error'), 'cooldown', NOW + D.cooldownMs],
    ['503 with no body', 503, {}, '', 'cooldown', NOW + D.cooldownMs],
    ['400 (about the request)', 400, {}, body('invalid_request_error', 'rate limit exceeded'), null, null],
    ['401 (checked by the probe, not here)', 401, {}, body('authentication_error', 'invalid x-api-key'), null, null],
    ['403 (checked by the probe, not here)', 403, {}, body('permission_error', 'organization disabled'), null, null],
    ['413', 413, {}, body('request_too_large', 'x'), null, null],
  ] as const)('%s', (_, status, headers, text, state, until) => {
    const s = anthropicStateFromResponse(status, headers, text, D, NOW)
    expect(s?.state ?? null).toBe(state)
    if (s) expect(s.until).toBe(until)
  })

  it('the admin\'s reason carries the upstream message (first 200 characters); a non-JSON body gives the status alone', () => {
    expect(anthropicStateFromResponse(529, {}, body('overloaded_error', 'Overloaded'), D, NOW)?.reason).toBe('upstream 529: Overloaded')
    expect(anthropicStateFromResponse(500, {}, '<html>bad gateway</html>', D, NOW)?.reason).toBe('upstream 500')
    expect(anthropicStateFromResponse(500, {}, body('api_error', 'x'.repeat(500)), D, NOW)?.reason).toHaveLength('upstream 500: '.length + 200)
  })
})

describe('windowFromHeaders: the 5-hour session window of subscription accounts', () => {
  it.each([
    ['status and reset', { 'anthropic-ratelimit-unified-5h-status': 'allowed', 'anthropic-ratelimit-unified-5h-reset': String(NOW / 1000 + 3600) }, { status: 'allowed', resetAt: new Date(NOW + 3_600_000).toISOString() }],
    ['status only', { 'anthropic-ratelimit-unified-5h-status': 'allowed_warning' }, { status: 'allowed_warning', resetAt: null }],
    ['a repeated header: the first', { 'anthropic-ratelimit-unified-5h-status': ['rejected', 'allowed'] }, { status: 'rejected', resetAt: null }],
    ['a junk reset', { 'anthropic-ratelimit-unified-5h-status': 'allowed', 'anthropic-ratelimit-unified-5h-reset': 'later' }, { status: 'allowed', resetAt: null }],
    ['no status: none', { 'anthropic-ratelimit-unified-5h-reset': '1700000000' }, null],
  ] as const)('%s', (_, headers, expected) => {
    const w = windowFromHeaders(headers as Record<string, string | string[]>, NOW)
    expect(w ? { status: w.status, resetAt: w.resetAt } : null).toEqual(expected)
    if (w) expect(w.seenAt).toBe(new Date(NOW).toISOString())
  })
})
