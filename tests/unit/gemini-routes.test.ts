import { describe, expect, it } from 'vitest'
import { apiPath, type GeminiRoute, parseRoute, routeRefusal, upstreamQuery } from '../../server/protocols/gemini/routes'

const PRO = 'gemini-2.5-pro'

describe('parseRoute: the raw path, never decoded, into validated parts', () => {
  it.each([
    ['v1beta/models', { kind: 'models', version: 'v1beta' }],
    ['v1/models', { kind: 'models', version: 'v1' }],
    [`v1beta/models/${PRO}`, { kind: 'model', version: 'v1beta', model: PRO }],
    ['v1/models/gemini-2.0-flash-001', { kind: 'model', version: 'v1', model: 'gemini-2.0-flash-001' }],
    [`v1beta/models/${PRO}:generateContent`, { kind: 'generate', version: 'v1beta', model: PRO, method: 'generateContent' }],
    [`v1/models/${PRO}:streamGenerateContent`, { kind: 'generate', version: 'v1', model: PRO, method: 'streamGenerateContent' }],
    ['v1beta/models/gemini-2.5-flash-lite:countTokens', { kind: 'generate', version: 'v1beta', model: 'gemini-2.5-flash-lite', method: 'countTokens' }],
    ['v1beta/models/gemini_exp.1206:generateContent', { kind: 'generate', version: 'v1beta', model: 'gemini_exp.1206', method: 'generateContent' }],
    [`v1beta/models/${'a'.repeat(100)}`, { kind: 'model', version: 'v1beta', model: 'a'.repeat(100) }],
    ...['loadCodeAssist', 'onboardUser', 'generateContent', 'streamGenerateContent', 'countTokens', 'listExperiments', 'retrieveUserQuota']
      .map(method => [`v1internal:${method}`, { kind: 'internal', method }] as const),
  ] as [string, GeminiRoute][])('%s', (path, route) => {
    expect(parseRoute(path)).toEqual(route)
  })

  it.each([
    // Encoded dot segments and separators, in every spelling.
    'v1beta/models/..%2Ffiles', 'v1beta/models/..%2ffiles', 'v1beta/models/%2E%2E%2Ffiles', 'v1beta/models/%2e%2e%2ffiles',
    'v1beta/models/%2e%2e/files', 'v1beta/models/%2E%2E', 'v1beta/models/.%2E', 'v1beta/models/..%5Cfiles', 'v1beta/models/..%5cfiles',
    'v1beta/models/..\\files', 'v1beta/models/..%252Ffiles', 'v1beta/models/%252E%252E%252Ffiles', 'v1beta/models/..%2F..%2Fv1%2Fanything',
    'v1beta/models/..%2Ffiles:generateContent', 'v1beta/models/..%2F..%2Fv1%2Fanything:countTokens', `v1beta/models/${PRO}%2F..%2F..%2Ffiles`,
    'v1beta/models/%C0%AE%C0%AE%2Ffiles', 'v1beta/models/%u002e%u002e',
    // Literal dot segments.
    'v1beta/models/..', 'v1beta/models/.', 'v1beta/models/../files', 'v1beta/../v1beta/models', './v1beta/models', 'v1beta/models/../../x:generateContent',
    // NUL, malformed and any other escapes.
    `v1beta/models/${PRO}%00:generateContent`, `v1beta/models/${PRO}\u0000`, 'v1beta/models/%E0', 'v1beta/models/%E0%A4', 'v1beta/models/%',
    'v1beta/models/%zz', `v1beta/models/gemini%2D2.5-pro`, `v1beta/models/models%2F${PRO}`,
    // Empty segments, leading and trailing slashes.
    '', '/', 'v1beta/models/', `v1beta/models/${PRO}/`, '/v1beta/models', 'v1beta//models', `v1beta/models//${PRO}`, `v1beta/models/${PRO}:generateContent/`,
    // Method injection and unknown methods.
    `v1beta/models/${PRO}:generateContent/../x`, `v1beta/models/${PRO}:generateContent:countTokens`, `v1beta/models/${PRO}:`,
    `v1beta/models/${PRO}:batchGenerateContent`, `v1beta/models/${PRO}:GenerateContent`, `v1beta/models/${PRO}:generateContent%3Fkey=x`,
    `v1beta/models/:generateContent`, `v1beta/models/${PRO}:constructor`, `v1beta/models/${PRO}:__proto__`,
    'v1internal:setCodeAssistGlobalUserSetting', 'v1internal:onboardUser/../x', 'v1internal:onboardUser%2F..%2Fx', 'v1internal:', 'v1internal:toString',
    'v1beta/v1internal:loadCodeAssist', 'v1internal/loadCodeAssist',
    // Other versions, resources and shapes.
    'v1alpha/models', 'v2/models', 'V1beta/models', 'v1beta/files', 'v1beta/tunedModels/x', 'v1beta/models/x/y', 'v1beta/models/a/b:generateContent',
    'v1beta', `models/${PRO}:generateContent`, `v1beta/models/${PRO}?alt=sse`, `v1beta/models/${PRO}#x`,
    // Model ids of the wrong shape: leading punctuation, too long, spaces, unicode.
    'v1beta/models/-gemini', 'v1beta/models/.gemini', 'v1beta/models/_gemini', `v1beta/models/${'a'.repeat(101)}`, `v1beta/models/${'a'.repeat(300)}:generateContent`,
    'v1beta/models/gemini pro', 'v1beta/models/gemini+pro', 'v1beta/models/café', 'v1beta/models/gemini\u202Epro', 'v1beta/models/ｇｅｍｉｎｉ', 'v1beta/models/gemini\u2024\u2024',
    'v1beta/models/gemini;x', 'v1beta/models/gemini@x',
  ])('refuses %j', (path) => {
    expect(parseRoute(path)).toBeNull()
  })
})

describe('routeRefusal', () => {
  it.each([
    ['v1beta/models/%E0', 400], ['v1beta/models/..%2Ffiles', 400], ['v1beta/models/..\\x', 400], ['v1beta/models/café', 400],
    [`v1beta/models/${'a'.repeat(300)}`, 400], ['v1beta/files', 404], ['v1beta/models/..', 404], ['v1internal:setCodeAssistGlobalUserSetting', 404],
  ] as const)('%s → %i', (path, status) => {
    const e = routeRefusal('GET', path)
    expect(e.status).toBe(status)
    // Only a path of harmless characters is named back to the client.
    if (status === 400) expect(e.message).not.toContain(path)
  })
})

describe('apiPath and upstreamQuery: what the relay sends upstream', () => {
  it.each([
    [{ kind: 'models', version: 'v1beta' }, '', '/v1beta/models', ''],
    [{ kind: 'models', version: 'v1' }, 'pageSize=50&pageToken=Cg1nZW1pbmk%3D&key=cr_x&foo=bar', '/v1/models', '?pageSize=50&pageToken=Cg1nZW1pbmk%3D'],
    [{ kind: 'models', version: 'v1beta' }, 'pageSize=007', '/v1beta/models', '?pageSize=7'],
    [{ kind: 'model', version: 'v1', model: PRO }, 'alt=sse&fields=name', `/v1/models/${PRO}`, ''],
    [{ kind: 'generate', version: 'v1beta', model: PRO, method: 'streamGenerateContent' }, 'alt=sse&key=cr_x&upload_protocol=raw', `/v1beta/models/${PRO}:streamGenerateContent`, '?alt=sse'],
    [{ kind: 'generate', version: 'v1beta', model: PRO, method: 'streamGenerateContent' }, 'alt=json', `/v1beta/models/${PRO}:streamGenerateContent`, ''],
    [{ kind: 'generate', version: 'v1beta', model: PRO, method: 'generateContent' }, 'alt=sse&pageSize=3', `/v1beta/models/${PRO}:generateContent`, ''],
    [{ kind: 'generate', version: 'v1beta', model: PRO, method: 'countTokens' }, '%E0=%E0&alt=sse', `/v1beta/models/${PRO}:countTokens`, ''],
  ] as [Exclude<GeminiRoute, { kind: 'internal' }>, string, string, string][])('%j ?%s', (route, clientQuery, path, query) => {
    expect(apiPath(route)).toBe(path)
    expect(upstreamQuery(route, new URLSearchParams(clientQuery))).toBe(query)
  })

  it.each([
    ['streamGenerateContent', 'alt=sse&foo=bar', '?alt=sse'],
    ['streamGenerateContent', 'foo=bar', ''],
    ['generateContent', 'alt=sse', ''],
    ['loadCodeAssist', 'alt=sse&project=x', ''],
  ] as const)('v1internal:%s ?%s → %j', (method, clientQuery, query) => {
    expect(upstreamQuery({ kind: 'internal', method }, new URLSearchParams(clientQuery))).toBe(query)
  })

  it.each(['pageSize=0', 'pageSize=1001', 'pageSize=-1', 'pageSize=abc', 'pageSize=1e3', 'pageSize=', 'pageToken=', 'pageToken=a b',
    'pageToken=..%2F..%2Ffiles', 'pageToken=a%26key%3Dx', `pageToken=${'a'.repeat(600)}`])('refuses ?%s on the model list with 400', (q) => {
    expect(() => upstreamQuery({ kind: 'models', version: 'v1beta' }, new URLSearchParams(q))).toThrow(expect.objectContaining({ status: 400 }))
  })
})
