import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import { extractApiKey } from '../../server/keys/extract'
import { headerAllowList } from '../../server/upstream/headers'
import { parseProxyUrl, redactProxyUrl } from '../../server/upstream/proxy-url'

describe('extractApiKey', () => {
  it.each<[string, IncomingHttpHeaders, string | undefined, string | null]>([
    ['x-api-key', { 'x-api-key': 'cr_x' }, '/v1/messages', 'cr_x'],
    ['x-api-key with surrounding spaces', { 'x-api-key': '  cr_x  ' }, '/v1/messages', 'cr_x'],
    ['Authorization: Bearer', { authorization: 'Bearer cr_b' }, '/v1/messages', 'cr_b'],
    ['Authorization: bearer (lower case)', { authorization: 'bearer cr_b' }, '/v1/messages', 'cr_b'],
    ['Authorization: BEARER (upper case)', { authorization: 'BEARER cr_b' }, '/v1/messages', 'cr_b'],
    ['Authorization: BeArEr with several spaces', { authorization: 'BeArEr    cr_b ' }, '/v1/messages', 'cr_b'],
    ['Authorization: Basic is not a key', { authorization: 'Basic dXNlcjpwYXNz' }, '/v1/messages', null],
    ['Authorization: Bearer without a token', { authorization: 'Bearer ' }, '/v1/messages', null],
    ['x-goog-api-key', { 'x-goog-api-key': 'cr_g' }, '/v1beta/models/m:generateContent', 'cr_g'],
    ['?key= query parameter', {}, '/v1beta/models/m:streamGenerateContent?key=cr_q', 'cr_q'],
    ['&key= after other parameters', {}, '/v1beta/models/m:streamGenerateContent?alt=sse&key=cr_q', 'cr_q'],
    ['a percent-encoded ?key=', {}, '/v1beta/x?key=cr%5Fq%2B1', 'cr_q+1'],
    ['a query without key', {}, '/v1/messages?beta=true', null],
    ['a parameter merely ending in "key"', {}, '/v1/messages?apikey=cr_nope&monkey=1', null],
    ['an empty ?key=', {}, '/v1/messages?key=', null],
    ['no headers and no query', {}, '/v1/messages', null],
    ['no URL at all', {}, undefined, null],
    ['an empty x-api-key', { 'x-api-key': '' }, '/v1/messages', null],
    ['unrelated headers', { 'cookie': 'key=cr_c', 'x-key': 'cr_k' }, '/v1/messages', null],
  ])('%s', (_label, headers, url, expected) => {
    expect(extractApiKey(headers, url)).toBe(expected)
  })

  describe('precedence: x-api-key, then Bearer, then x-goog-api-key, then ?key=', () => {
    const all: IncomingHttpHeaders = { 'x-api-key': 'from-x', 'authorization': 'Bearer from-bearer', 'x-goog-api-key': 'from-goog' }
    const url = '/v1/messages?key=from-query'
    it.each<[string, string[], string]>([
      ['everything present', [], 'from-x'],
      ['without x-api-key', ['x-api-key'], 'from-bearer'],
      ['without x-api-key and Bearer', ['x-api-key', 'authorization'], 'from-goog'],
      ['only the query', ['x-api-key', 'authorization', 'x-goog-api-key'], 'from-query'],
    ])('%s', (_label, drop, expected) => {
      const headers = Object.fromEntries(Object.entries(all).filter(([k]) => !drop.includes(k)))
      expect(extractApiKey(headers, url)).toBe(expected)
    })

    it('a non-Bearer Authorization does not hide x-goog-api-key', () => {
      expect(extractApiKey({ 'authorization': 'Basic abc', 'x-goog-api-key': 'from-goog' }, url)).toBe('from-goog')
    })
  })
})

describe('headerAllowList', () => {
  const filter = headerAllowList(['content-type', 'anthropic-version', 'request-id'], ['x-stainless-', 'anthropic-beta'])

  it('keeps exact names and prefixed names, drops everything else', () => {
    const out = filter({
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'prompt-caching-2024-07-31',
      'x-stainless-os': 'Linux',
      'x-stainless-lang': 'js',
      'x-api-key': 'cr_secret',
      'authorization': 'Bearer cr_secret',
      'cookie': 'session=1',
      'accept-encoding': 'gzip',
      'host': 'relay.local',
      'x-stainless': 'no trailing dash: not a prefix match',
    })
    expect(out).toEqual({
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'prompt-caching-2024-07-31',
      'x-stainless-os': 'Linux',
      'x-stainless-lang': 'js',
    })
  })

  it('joins repeated headers with ", " and skips undefined values', () => {
    expect(filter({ 'request-id': ['a', 'b'], 'content-type': undefined })).toEqual({ 'request-id': 'a, b' })
  })

  it('keeps an empty string value', () => {
    expect(filter({ 'anthropic-version': '' })).toEqual({ 'anthropic-version': '' })
  })

  it('returns a new object and leaves the input alone', () => {
    const input = { 'content-type': 'text/plain', 'x-api-key': 'k' }
    const out = filter(input)
    expect(out).not.toBe(input)
    expect(input).toEqual({ 'content-type': 'text/plain', 'x-api-key': 'k' })
  })

  it.each([
    ['no names and no prefixes', headerAllowList([]), {}],
    ['only prefixes', headerAllowList([], ['x-']), { 'x-a': '1' }],
    ['only names', headerAllowList(['b']), { b: '2' }],
  ])('with %s', (_label, f, expected) => {
    expect(f({ 'x-a': '1', 'b': '2', 'c': '3' })).toEqual(expected)
  })
})

describe('parseProxyUrl', () => {
  it.each([
    ['socks5://127.0.0.1:1080', 'socks5:', '127.0.0.1', '1080'],
    ['socks5h://proxy.example.com:1080', 'socks5h:', 'proxy.example.com', '1080'],
    ['socks5://user:p%40ss@10.0.0.1:9050', 'socks5:', '10.0.0.1', '9050'],
    ['http://proxy.local:8080', 'http:', 'proxy.local', '8080'],
    ['https://user:pass@proxy.local:8443', 'https:', 'proxy.local', '8443'],
    ['http://[::1]:3128', 'http:', '[::1]', '3128'],
    // An explicit default port is still a port: a proxy on :80 or :443 is legitimate.
    ['http://proxy.local:80', 'http:', 'proxy.local', '80'],
    ['https://proxy.local:443', 'https:', 'proxy.local', '443'],
  ])('accepts %s', (raw, protocol, hostname, port) => {
    const u = parseProxyUrl(raw)
    expect(u.protocol).toBe(protocol)
    expect(u.hostname).toBe(hostname)
    expect(u.port || { 'http:': '80', 'https:': '443' }[u.protocol]).toBe(port)
  })

  it('keeps the credentials', () => {
    const u = parseProxyUrl('socks5://alice:s3cret@proxy:1080')
    expect(u.username).toBe('alice')
    expect(u.password).toBe('s3cret')
  })

  it.each([
    ['ftp://proxy.local:21', /scheme.*socks5.*http.*\(got ftp\)/],
    ['socks4://proxy.local:1080', /scheme.*\(got socks4\)/],
    ['file:///etc/passwd', /scheme.*\(got file\)/],
    ['http://proxy.local', /host and a port/],
    ['socks5://proxy.local', /host and a port/],
    ['not a url', /must be a URL/],
    ['', /must be a URL/],
    ['proxy.local:8080', /scheme|must be a URL/],
    ['http://:8080', /must be a URL|host/],
  ])('rejects %j with a clear message', (raw, message) => {
    expect(() => parseProxyUrl(raw)).toThrow(message)
  })
})

describe('redactProxyUrl', () => {
  it.each([
    ['socks5://alice:s3cret@proxy.example.com:1080', 'socks5://alice:***@proxy.example.com:1080'],
    ['http://bob:hunter2@10.0.0.2:3128', 'http://bob:***@10.0.0.2:3128'],
    ['https://carol:p%40ss@proxy:8443', 'https://carol:***@proxy:8443'],
    ['socks5h://dave@proxy:1080', 'socks5h://dave@proxy:1080'],
    ['http://proxy:8080', 'http://proxy:8080'],
  ])('%s → %s', (raw, expected) => {
    const out = redactProxyUrl(raw)
    expect(out).toBe(expected)
    const password = new URL(raw).password
    if (password) expect(out).not.toContain(password)
  })

  it('returns null for null and for an empty string', () => {
    expect(redactProxyUrl(null)).toBeNull()
    expect(redactProxyUrl('')).toBeNull()
  })

  it('does not echo an unparseable value (it may contain a password)', () => {
    const out = redactProxyUrl('::: user:secret@nowhere')
    expect(out).not.toContain('secret')
    expect(out).toBeTruthy()
  })
})
