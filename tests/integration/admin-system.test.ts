import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { Socks5Proxy } from '../fixtures/proxies'
import { ADMIN, TestServer } from '../helpers/server'

// The admin endpoints the web UI's settings and add-account screens use.
describe('admin: session, password, system info, proxy test', () => {
  const upstream = new FakeAnthropic()
  const proxy = new Socks5Proxy({ user: 'tester', pass: 'pr0xy-secret-9f2' })
  let server: TestServer

  beforeAll(async () => {
    await Promise.all([upstream.start(), proxy.start()])
    server = await new TestServer({ CLAUDE_API_URL: upstream.url }).start()
  })
  afterAll(async () => {
    await server?.stop()
    await Promise.all([upstream.stop(), proxy.stop()])
  })

  const login = (password: string) => fetch(`${server.url}/api/admin/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password }),
  })

  it('GET /api/admin/auth/me names the admin; 401 without a session', async () => {
    expect((await server.admin('GET', '/api/admin/auth/me')).body).toEqual({ username: ADMIN.username })
    expect((await fetch(`${server.url}/api/admin/auth/me`)).status).toBe(401)
  })

  it('changes the password only with the current one; the new one logs in, the old one no longer does', async () => {
    const wrong = await server.admin<{ message: string }>('POST', '/api/admin/auth/password', { currentPassword: 'not-it', newPassword: 'a-new-password-1' })
    expect(wrong.status).toBe(400)
    expect(wrong.body.message).toMatch(/current password/i)
    const short = await server.admin<{ message: string }>('POST', '/api/admin/auth/password', { currentPassword: ADMIN.password, newPassword: 'short' })
    expect(short.status).toBe(400)
    expect(short.body.message).toMatch(/newPassword/)
    const ok = await server.admin('POST', '/api/admin/auth/password', { currentPassword: ADMIN.password, newPassword: 'a-new-password-1' })
    expect(ok.status).toBe(200)
    expect((await login('a-new-password-1')).status).toBe(200)
    expect((await login(ADMIN.password)).status).toBe(401)
    // Put it back for the other tests.
    expect((await server.admin('POST', '/api/admin/auth/password', { currentPassword: 'a-new-password-1', newPassword: ADMIN.password })).status).toBe(200)
  })

  it('GET /api/admin/system: version, uptime, Redis, pools', async () => {
    const s = (await server.admin<Record<string, unknown>>('GET', '/api/admin/system')).body
    expect(s).toMatchObject({ status: 'healthy', redis: { status: 'healthy' }, connectionPools: { total: 0 } })
    expect(s.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(s.node).toBe(process.version)
    expect((s.redis as { version: string }).version).toMatch(/^\d+\./)
    expect((await fetch(`${server.url}/api/admin/system`)).status).toBe(401)
  })

  it('POST /api/admin/proxy-test connects through the proxy, and explains a refusal without the password', async () => {
    const good = await server.admin<{ ok: boolean, ms: number, proxy: string }>('POST', '/api/admin/proxy-test', { proxy: proxy.url() })
    expect(good.body).toMatchObject({ ok: true, proxy: `socks5://tester:***@127.0.0.1:${proxy.port}` })
    expect(proxy.connections.at(-1)).toMatchObject({ target: new URL(upstream.url).host, user: 'tester' })
    const bad = await server.admin<{ ok: boolean, error: string }>('POST', '/api/admin/proxy-test', { proxy: proxy.url({ user: 'tester', pass: 'wrong-pass-77' }) })
    expect(bad.body.ok).toBe(false)
    expect(bad.body.error).toMatch(/auth/i)
    expect(JSON.stringify(bad.body)).not.toContain('wrong-pass-77')
    const invalid = await server.admin<{ message: string }>('POST', '/api/admin/proxy-test', { proxy: 'ftp://x:1' })
    expect(invalid.status).toBe(400)
    expect(invalid.body.message).toMatch(/scheme/)
  })
})
