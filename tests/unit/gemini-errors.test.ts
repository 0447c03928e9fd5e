import { describe, expect, it } from 'vitest'
import { geminiStateFromResponse } from '../../server/protocols/gemini/errors'
import { GOOGLE_ERRORS, googleErrorJson } from '../fixtures/gemini-upstream'

const D = { overloadedMs: 60_000, cooldownMs: 30_000, rateLimitedDefaultMs: 3_600_000 }
const NOW = 1_700_000_000_000
const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo'
const errorInfo = (reason: string) => ({ '@type': ERROR_INFO, reason, 'domain': 'googleapis.com' })
const unknownField = (name: string) => googleErrorJson(400, 'INVALID_ARGUMENT', `Invalid JSON payload received. Unknown name "${name}": Cannot find field.`,
  [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', 'fieldViolations': [{ description: `Invalid JSON payload received. Unknown name "${name}": Cannot find field.` }] }])

describe('geminiStateFromResponse: account health from status codes and structured fields only', () => {
  it.each([
    // [label, status, body, headers, expected state (null: about the request), until]
    ['structured API_KEY_INVALID (Google\'s real answer)', 400, GOOGLE_ERRORS.apiKeyInvalid.body, {}, 'error', 0],
    ['API_KEY_INVALID among other details', 400, googleErrorJson(400, 'INVALID_ARGUMENT', 'x', [{ '@type': 'type.googleapis.com/google.rpc.Help' }, errorInfo('API_KEY_INVALID')]), {}, 'error', 0],
    ['401 UNAUTHENTICATED', 401, GOOGLE_ERRORS.unauthenticated.body, {}, 'error', 0],
    ['401 with no body', 401, '', {}, 'error', 0],
    ['an echoed unknown field "API key not valid…"', 400, unknownField('API key not valid. Please pass a valid API key.'), {}, null, null],
    ['an echoed unknown field "API_KEY_INVALID"', 400, unknownField('API_KEY_INVALID'), {}, null, null],
    ['the message alone says API key not valid (no ErrorInfo)', 400, googleErrorJson(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.'), {}, null, null],
    ['API_KEY_INVALID as text in a field violation', 400, googleErrorJson(400, 'INVALID_ARGUMENT', 'bad', [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', 'fieldViolations': [{ description: 'API_KEY_INVALID' }] }]), {}, null, null],
    ['a reason API_KEY_INVALID without the ErrorInfo type', 400, googleErrorJson(400, 'INVALID_ARGUMENT', 'bad', [{ reason: 'API_KEY_INVALID' }]), {}, null, null],
    ['ErrorInfo with another reason', 400, googleErrorJson(400, 'INVALID_ARGUMENT', 'bad', [errorInfo('API_KEY_SERVICE_BLOCKED')]), {}, null, null],
    ['API_KEY_INVALID on a 403 (not a 400)', 403, googleErrorJson(403, 'PERMISSION_DENIED', 'x', [errorInfo('API_KEY_INVALID')]), {}, null, null],
    ['a 400 that is not JSON', 400, '<html>API key not valid</html>', {}, null, null],
    ['a 400 whose details is not an array', 400, JSON.stringify({ error: { code: 400, message: 'API key not valid', details: { reason: 'API_KEY_INVALID' } } }), {}, null, null],
    ['a JSON array body', 400, '[{"reason":"API_KEY_INVALID"}]', {}, null, null],
    ['403 PERMISSION_DENIED (about the request)', 403, GOOGLE_ERRORS.apiKeyMissing.body, {}, null, null],
    ['404 NOT_FOUND', 404, googleErrorJson(404, 'NOT_FOUND', 'models/x is not found'), {}, null, null],
    ['429 with RetryInfo 17s', 429, GOOGLE_ERRORS.error429.body, {}, 'rate_limited', NOW + 17_000],
    ['429 with retry-after 5 and no RetryInfo', 429, googleErrorJson(429, 'RESOURCE_EXHAUSTED', 'quota'), { 'retry-after': '5' }, 'rate_limited', NOW + 5_000],
    ['429 with nothing to go by', 429, '', {}, 'rate_limited', NOW + D.rateLimitedDefaultMs],
    ['429 whose message claims a retry delay', 429, googleErrorJson(429, 'RESOURCE_EXHAUSTED', 'retryDelay 1s', [{ retryDelay: '1s' }]), {}, 'rate_limited', NOW + D.rateLimitedDefaultMs],
    ['500 INTERNAL', 500, GOOGLE_ERRORS.error500.body, {}, 'cooldown', NOW + D.cooldownMs],
    ['503 UNAVAILABLE', 503, GOOGLE_ERRORS.error503.body, {}, 'cooldown', NOW + D.cooldownMs],
  ] as const)('%s', (_label, status, body, headers, state, until) => {
    const s = geminiStateFromResponse(status, headers, body, D, NOW)
    if (state === null) return expect(s).toBeNull()
    expect(s).toMatchObject({ state, since: NOW, until })
  })
})
