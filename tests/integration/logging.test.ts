import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { FakeOAuthServer } from '../fixtures/oauth-server'
import { Socks5Proxy } from '../fixtures/proxies'
import { messageBody, pollUntil } from '../helpers/client'
import { TestServer } from '../helpers/server'

interface Line { level: number, msg: string, reqId?: string, [k: string]: unknown }

// Structured logs in LOG_DIR: one line per request, files re-created after deletion, the admin's
// live view, and no secret or prompt text anywhere.
describe('logging', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crs-logs-'))
  const upstream = new FakeAnthropic()
  const tokens = new FakeOAuthServer()
  const proxy = new Socks5Proxy({ user: 'loguser', pass: 'PROXY-PASS-5c1e' })
  const SECRETS = {
    upstreamKey: 'sk-ant-api03-UPSTREAM-SECRET-9a8b7c',
    refreshToken: 'REFRESH-TOKEN-SECRET-41d2',
    accessToken: 'ACCESS-TOKEN-SECRET-77e0',
    prompt: 'PROMPT-TEXT-SECRET-e3f1',
    proxyPass: 'PROXY-PASS-5c1e',
    wrongProxyPass: 'WRONG-PROXY-PASS-0b0b',
  }
  let server: TestServer
  let apiKey = ''

  beforeAll(async () => {
    await Promise.all([upstream.start(), tokens.start(), proxy.start()])
    server = await new TestServer({ LOG_DIR: dir, LOG_LEVEL: 'info', CLAUDE_API_URL: upstream.url, CLAUDE_OAUTH_TOKEN_URL: tokens.url(), OAUTH_REFRESH_INTERVAL_SECONDS: '0' }).start()
    await server.createConsoleAccount(upstream.url, { name: 'logged', apiKey: SECRETS.upstreamKey, proxy: proxy.url() })
    apiKey = (await server.createKey({ name: 'log-key' })).apiKey
  })
  afterAll(async () => {
    await server?.stop()
    await Promise.all([upstream.stop(), tokens.stop(), proxy.stop()])
    rmSync(dir, { recursive: true, force: true })
  })

  const file = (name: string) => readdirSync(dir).find(f => f.startsWith(`${name}-`) && f.endsWith('.log'))
  const lines = (name: string): Line[] => {
    const f = file(name)
    return f ? readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l) as Line) : []
  }
  const send = (body = messageBody()) => fetch(`${server.url}/api/v1/messages`, {
    method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'authorization': `Bearer ${apiKey}` }, body,
  })

  it('writes one line per relayed request with its id, which the client gets as x-request-id', async () => {
    const res = await send()
    expect(res.status).toBe(200)
    await res.text()
    const id = res.headers.get('x-request-id')
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    const line = await pollUntil(async () => lines('combined').find(l => l.reqId === id), l => !!l, 5000)
    expect(line).toMatchObject({ msg: 'request', platform: 'claude', status: 200, attempts: 1, stream: false, aborted: false })
    expect(line!.keyId).toEqual(expect.any(String))
    expect(line!.tokens).toMatchObject({ input: expect.any(Number), output: expect.any(Number) })
    expect(line!.ttfbMs).toEqual(expect.any(Number))
    expect(line!.durationMs).toEqual(expect.any(Number))
  })

  it('re-creates a deleted log file within seconds, once per deletion, and keeps writing to it', async () => {
    const name = file('combined')!
    const before = (await (await fetch(`${server.url}/health`)).json() as { components: { logger: { recreated: number, status: string } } }).components.logger
    expect(before.status).toBe('healthy')
    rmSync(join(dir, name))
    await pollUntil(async () => readdirSync(dir).includes(name), ok => ok, 5000)
    const res = await send()
    await res.text()
    const id = res.headers.get('x-request-id')
    await pollUntil(async () => lines('combined').some(l => l.reqId === id), ok => ok, 5000)
    const after = (await (await fetch(`${server.url}/health`)).json() as { components: { logger: { recreated: number } } }).components.logger
    expect(after.recreated).toBe(before.recreated + 1)
    expect(lines('combined').some(l => /re-created/.test(l.msg))).toBe(true)
  })

  it('a token refresh goes to the token-refresh log too', async () => {
    tokens.addRefreshToken(SECRETS.refreshToken)
    const { body } = await server.admin<{ id: string }>('POST', '/api/admin/claude-accounts', {
      type: 'oauth', name: 'log-oauth', refreshToken: SECRETS.refreshToken, accessToken: SECRETS.accessToken, expiresAt: Date.now() + 3600_000,
    })
    expect((await server.admin('POST', `/api/admin/claude-accounts/${body.id}/refresh`)).status).toBe(200)
    const line = await pollUntil(async () => lines('token-refresh').find(l => l.accountId === body.id), l => !!l, 5000)
    expect(line).toMatchObject({ msg: 'oauth token refreshed', component: 'token-refresh' })
  })

  it('the admin API shows recent lines (level filter) and streams new ones', async () => {
    expect((await fetch(`${server.url}/api/admin/logs`)).status).toBe(401)
    const recent = (await server.admin<{ lines: Line[] }>('GET', '/api/admin/logs?limit=50')).body.lines
    expect(recent.some(l => l.msg === 'request')).toBe(true)
    const warnOnly = (await server.admin<{ lines: Line[] }>('GET', '/api/admin/logs?level=warn&limit=50')).body.lines
    expect(warnOnly.every(l => l.level >= 40)).toBe(true)

    const ac = new AbortController()
    const stream = await fetch(`${server.url}/api/admin/logs/stream?tail=0`, { headers: { authorization: `Bearer ${await server.adminToken()}` }, signal: ac.signal })
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/)
    const reader = stream.body!.getReader()
    const res = await send()
    await res.text()
    const id = res.headers.get('x-request-id')!
    let seen = ''
    while (!seen.includes(id)) seen += Buffer.from((await reader.read()).value!).toString('utf8')
    ac.abort()
    const event = seen.split('\n\n').find(e => e.includes(id))!
    expect(JSON.parse(event.replace(/^data: /, ''))).toMatchObject({ msg: 'request', reqId: id })
  })

  it('no API key, upstream key, OAuth token, proxy password or prompt text in any log file or stdout', async () => {
    // A prompt with a marker, a proxy that refuses (its URL in errors), a failed refresh.
    await (await send(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: SECRETS.prompt }] }))).text()
    const bad = await server.createConsoleAccount(upstream.url, { name: 'bad-proxy', apiKey: SECRETS.upstreamKey, priority: 0, proxy: proxy.url({ user: 'loguser', pass: SECRETS.wrongProxyPass }) })
    await (await send()).text()
    await server.admin('DELETE', `/api/admin/claude-accounts/${bad.id}`)
    await new Promise(r => setTimeout(r, 500))
    const everything = readdirSync(dir).map(f => readFileSync(join(dir, f), 'utf8')).join('\n') + server.output
    expect(everything.length).toBeGreaterThan(1000)
    for (const [what, secret] of Object.entries({ ...SECRETS, clientKey: apiKey })) {
      expect(everything.includes(secret), `${what} leaked into the logs`).toBe(false)
      expect(everything.includes(encodeURIComponent(secret)), `${what} (URL-encoded) leaked into the logs`).toBe(false)
    }
  })
})
