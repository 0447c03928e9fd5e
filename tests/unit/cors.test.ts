import { describe, expect, it } from 'vitest'
import { ConfigError, configFromEnv } from '../../server/config'
import { allowedOrigin, allowedRequestHeaders, isClientPath, MAX_ORIGIN_LENGTH, preflightHeaders } from '../../server/system/cors'

const secrets = { JWT_SECRET: 'j'.repeat(32), ENCRYPTION_KEY: 'e'.repeat(32), API_KEY_SALT: 's'.repeat(16) }

describe('isClientPath', () => {
  it.each<[string, boolean]>([
    ['/api/v1/messages', true],
    ['/api/v1/messages?beta=true', true],
    ['/api/v1', true],
    ['/api/gemini/v1beta/models/gemini-2.5-pro:generateContent', true],
    ['/openai/v1/chat/completions', true],
    ['/gemini/v1beta/models', true],
    ['/claude/v1/messages', true],
    ['/api/admin/api-keys', false],
    ['/api/admin', false],
    ['/metrics', false],
    ['/health', false],
    ['/connection-pools', false],
    ['/web/keys', false],
    ['/', false],
    ['/api/v1x/messages', false],
    ['/openaiX/v1/models', false],
    ['/api/v1/../admin/api-keys', false],
    ['/api/v1/%2e%2e/admin/api-keys', false],
    ['/api/v1%2f..%2fadmin', false],
    ['/api/v1/./messages', false],
    ['/claude\\..\\api\\admin', false],
    ['/api/v1/messages?next=/../admin', true],
  ])('%s → %s', (path, expected) => {
    expect(isClientPath(path)).toBe(expected)
  })
})

describe('allowedOrigin', () => {
  const listed = new Set(['https://app.example.com', 'http://localhost:5173'])
  it.each<[string, '*' | Set<string>, string | undefined, string | null]>([
    ['a listed origin is echoed', listed, 'https://app.example.com', 'https://app.example.com'],
    ['another listed one', listed, 'http://localhost:5173', 'http://localhost:5173'],
    ['an unlisted origin', listed, 'https://evil.example', null],
    ['same host, other scheme', listed, 'http://app.example.com', null],
    ['same host, other port', listed, 'https://app.example.com:8443', null],
    ['a prefix of a listed origin', listed, 'https://app.example.co', null],
    ['a listed origin with a suffix', listed, 'https://app.example.com.evil.example', null],
    ['no Origin', listed, undefined, null],
    ['the null origin', listed, 'null', null],
    ['* answers * to anyone', '*', 'https://anyone.example', '*'],
    ['* still needs an Origin', '*', undefined, null],
    ['an absurdly long Origin is ignored, even with *', '*', `https://${'a'.repeat(MAX_ORIGIN_LENGTH)}.example`, null],
  ])('%s', (_label, origins, origin, expected) => {
    expect(allowedOrigin(origins, origin)).toBe(expected)
  })
})

describe('allowedRequestHeaders', () => {
  it.each<[string, string | undefined, string | null]>([
    ['the Anthropic SDK in a browser', 'anthropic-dangerous-direct-browser-access,anthropic-version,content-type,x-api-key,x-stainless-arch,x-stainless-lang,x-stainless-os,x-stainless-package-version,x-stainless-retry-count,x-stainless-runtime,x-stainless-runtime-version,x-stainless-timeout',
      'anthropic-dangerous-direct-browser-access, anthropic-version, content-type, x-api-key, x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout'],
    ['the OpenAI SDK (bearer key, a future x-stainless header)', 'authorization, content-type, x-stainless-helper-method, x-stainless-new-thing', 'authorization, content-type, x-stainless-helper-method, x-stainless-new-thing'],
    ['Google\'s SDK, any case', 'X-Goog-Api-Key, X-Goog-Api-Client, Content-Type', 'x-goog-api-key, x-goog-api-client, content-type'],
    ['a header off the list is left out', 'x-api-key, cookie, x-forwarded-for', 'x-api-key'],
    ['only unlisted headers', 'x-custom', null],
    ['a malformed x-stainless name', 'x-stainless-a b', null],
    ['none requested', undefined, null],
    ['empty', '', null],
  ])('%s', (_label, requested, expected) => {
    expect(allowedRequestHeaders(requested)).toBe(expected)
  })

  it('reads a bounded number of names', () => {
    const many = Array.from({ length: 1000 }, () => 'x-api-key').join(',')
    expect(allowedRequestHeaders(many)!.split(', ')).toHaveLength(64)
  })
})

describe('preflightHeaders', () => {
  it('allows the origin, the methods and the allowed requested headers, and says it varies', () => {
    expect(preflightHeaders('https://app.example.com', 'x-api-key, x-evil')).toEqual({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': 'x-api-key',
      'access-control-max-age': '600',
      'vary': 'origin, access-control-request-headers',
    })
  })
})

describe('CORS_ORIGINS', () => {
  it.each<[string, '*' | string[] | null]>([
    ['', null],
    [' , ', null],
    ['*', '*'],
    ['https://app.example.com', ['https://app.example.com']],
    // Normalized as browsers send Origin: lower-case host, no default port.
    ['HTTPS://App.Example.com:443, http://localhost:5173', ['https://app.example.com', 'http://localhost:5173']],
    ['http://[::1]:8080', ['http://[::1]:8080']],
  ])('%j → %j', (value, expected) => {
    const got = configFromEnv({ ...secrets, CORS_ORIGINS: value }).corsOrigins
    expect(got === null || got === '*' ? got : [...got]).toEqual(expected)
  })

  it.each([
    'https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'ftp://app.example.com',
    'https://user@app.example.com', 'https://app.example.com?x=1', '*, https://app.example.com', 'null',
  ])('%j stops start-up with one line naming CORS_ORIGINS', (value) => {
    let error: unknown
    try {
      configFromEnv({ ...secrets, CORS_ORIGINS: value })
    }
    catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).lines).toHaveLength(1)
    expect((error as ConfigError).lines[0]).toMatch(/^CORS_ORIGINS .*scheme:\/\/host\[:port\]/)
  })
})
