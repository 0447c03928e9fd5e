import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { runServerToExit, startedServer, testSecrets } from '../helpers/server'

// CORS_ORIGINS on the built server: preflights and answers on the client routes, nothing
// anywhere else, and nothing at all when it is empty.
const APP = 'https://app.example.com'
const EVIL = 'https://evil.example'
const MESSAGE = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })

/** The access-control-* headers of an answer, by name. */
const corsHeaders = (res: Response) => Object.fromEntries([...res.headers].filter(([k]) => k.startsWith('access-control-')))

function preflight(base: string, path: string, origin: string, requestHeaders = 'anthropic-version,content-type,x-api-key,x-stainless-os,x-stainless-retry-count') {
  return fetch(base + path, { method: 'OPTIONS', headers: { 'origin': origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders } })
}

const CLIENT_PATHS = ['/api/v1/messages', '/api/v1/models', '/api/gemini/v1beta/models/gemini-2.5-pro:generateContent',
  '/gemini/v1beta/models', '/claude/v1/messages', '/openai/v1/chat/completions', '/api/v1/chat/completions']
const OTHER_PATHS = ['/api/admin/auth/login', '/api/admin/api-keys', '/metrics', '/health', '/connection-pools', '/web/login', '/']

describe('CORS_ORIGINS with a list of origins', () => {
  const upstream = new FakeAnthropic()
  const server = startedServer({ CORS_ORIGINS: `${APP}, http://localhost:5173`, METRICS_TOKEN: 'm'.repeat(16) })
  let apiKey = ''
  beforeAll(async () => {
    await upstream.start()
    await server.createConsoleAccount(upstream.url)
    apiKey = (await server.createKey()).apiKey
  })
  afterAll(() => upstream.stop())

  it.each(CLIENT_PATHS)('a preflight to %s from a listed origin is answered 204 with the CORS headers', async (path) => {
    const res = await preflight(server.url, path, APP)
    expect(res.status).toBe(204)
    expect(corsHeaders(res)).toEqual({
      'access-control-allow-origin': APP,
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': 'anthropic-version, content-type, x-api-key, x-stainless-os, x-stainless-retry-count',
      'access-control-max-age': '600',
    })
    expect(res.headers.get('vary')).toMatch(/\borigin\b/)
  })

  it('a preflight from an origin not listed gets 403 and no CORS headers; requested headers off the list are not allowed', async () => {
    const refused = await preflight(server.url, '/api/v1/messages', EVIL)
    expect(refused.status).toBe(403)
    expect(corsHeaders(refused)).toEqual({})
    const odd = await preflight(server.url, '/api/v1/messages', APP, 'x-api-key, cookie')
    expect(odd.headers.get('access-control-allow-headers')).toBe('x-api-key')
  })

  it('an actual request from a listed origin gets its origin and the exposed headers, error answers too', async () => {
    const ok = await fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'origin': APP, 'x-api-key': apiKey, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' }, body: MESSAGE })
    expect(ok.status).toBe(200)
    expect(corsHeaders(ok)).toEqual({ 'access-control-allow-origin': APP, 'access-control-expose-headers': 'retry-after, x-should-retry, request-id, x-request-id' })
    expect(ok.headers.get('vary')).toBe('origin')
    // The browser client must be able to read why it was refused.
    const bad = await fetch(`${server.url}/claude/v1/messages`, { method: 'POST', headers: { 'origin': 'http://localhost:5173', 'x-api-key': 'cr_wrong', 'content-type': 'application/json' }, body: MESSAGE })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
  })

  it('an actual request from an origin not listed gets no CORS headers (the browser refuses to read it)', async () => {
    const res = await fetch(`${server.url}/api/v1/models`, { headers: { 'origin': EVIL, 'x-api-key': apiKey } })
    expect(res.status).toBe(200)
    expect(corsHeaders(res)).toEqual({})
    expect(res.headers.get('vary')).toBe('origin')
  })

  it.each(OTHER_PATHS)('%s never gets CORS headers, preflight or not', async (path) => {
    const pre = await preflight(server.url, path, APP)
    expect(corsHeaders(pre)).toEqual({})
    expect(pre.status).not.toBe(204)
    const res = await fetch(server.url + path, { headers: { origin: APP }, redirect: 'manual' })
    expect(corsHeaders(res)).toEqual({})
  })

  it('paths that might route elsewhere, and an absurdly long Origin, get no CORS headers', async () => {
    for (const path of ['/api/v1/%2e%2e/admin/api-keys', '/api/v1%2f..%2fadmin%2fapi-keys']) {
      expect(corsHeaders(await preflight(server.url, path, APP)), path).toEqual({})
    }
    const long = await preflight(server.url, '/api/v1/messages', `https://${'a'.repeat(400)}.example`)
    expect(long.status).toBe(403)
    expect(corsHeaders(long)).toEqual({})
  })
})

describe('CORS_ORIGINS=*', () => {
  const server = startedServer({ CORS_ORIGINS: '*' })

  it('answers * to any origin on client routes, still nothing on admin routes', async () => {
    const res = await preflight(server.url, '/openai/v1/chat/completions', EVIL)
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const admin = await preflight(server.url, '/api/admin/auth/login', EVIL)
    expect(corsHeaders(admin)).toEqual({})
  })
})

describe('CORS_ORIGINS empty (the default)', () => {
  const server = startedServer()

  it.each(['/api/v1/messages', '/openai/v1/chat/completions', '/api/admin/auth/login'])('%s: no CORS headers, and no preflight answer', async (path) => {
    const pre = await preflight(server.url, path, APP)
    expect(pre.status).not.toBe(204)
    expect(corsHeaders(pre)).toEqual({})
    const res = await fetch(server.url + path, { method: 'POST', headers: { 'origin': APP, 'content-type': 'application/json' }, body: MESSAGE })
    expect(corsHeaders(res)).toEqual({})
    expect(res.headers.get('vary')).toBeNull()
  })
})

describe('a bad CORS_ORIGINS entry', () => {
  it('stops start-up with one line naming the variable', async () => {
    const r = await runServerToExit({ ...testSecrets(), CORS_ORIGINS: 'https://app.example.com/path' })
    expect(r.code).not.toBe(0)
    const lines = (r.stdout + r.stderr).split('\n').filter(l => l.includes('CORS_ORIGINS'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/scheme:\/\/host\[:port\]/)
  })
})
