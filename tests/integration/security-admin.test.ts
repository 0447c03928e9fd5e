import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { type IncomingHttpHeaders, request } from 'node:http'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from '../helpers/client'
import { ADMIN, startedServer, TestServer } from '../helpers/server'

/** Peak resident memory of a process (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!kb) throw new Error(`no VmHWM for ${pid}`)
  return Number(kb[1]) * 1024
}

/**
 * POST `total` bytes of `fill` in 64 KB writes (declared length, or chunked), stopping as soon as
 * an answer arrives; the server may close the connection while we still send, which is the point.
 */
function sendBig(url: string, total: number, opts: { chunked?: boolean, headers?: Record<string, string> } = {}): Promise<{ status: number, headers: IncomingHttpHeaders, body: string, sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0
    let answered = false
    const headers = { 'content-type': 'application/json', ...opts.headers, ...(opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(total) }) }
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sent }))
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sent }))
    })
    req.on('error', (err) => {
      if (!answered) reject(err)
    })
    const block = Buffer.alloc(64 * 1024, 0x20)
    const pump = () => {
      while (!answered && sent < total) {
        const n = Math.min(block.length, total - sent)
        sent += n
        if (!req.write(n === block.length ? block : block.subarray(0, n))) return void req.once('drain', pump)
      }
      if (!answered) req.end()
    }
    pump()
  })
}

const LOGIN = '/api/admin/auth/login'
const json = { 'content-type': 'application/json' }

async function loginToken(server: TestServer, headers: Record<string, string> = {}): Promise<{ token: string, setCookie: string }> {
  const res = await rawRequest(`${server.url}${LOGIN}`, { headers: { ...json, ...headers }, body: JSON.stringify(ADMIN) })
  expect(res.status, res.body).toBe(200)
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find(c => c.startsWith('crs_admin=')) ?? ''
  return { token: (JSON.parse(res.body) as { token: string }).token, setCookie }
}

describe('admin request bodies are bounded before they are buffered', () => {
  const server = startedServer()

  it('a 40 MB anonymous login body is refused with 413 without being read into memory', async () => {
    await loginToken(server) // warm up: the login path's code is loaded and has run once
    const before = peakRss(server.pid!)
    const res = await sendBig(`${server.url}${LOGIN}`, 40 * 1024 * 1024)
    const grown = peakRss(server.pid!) - before
    expect(grown, `peak RSS grew by ${Math.round(grown / 1024 / 1024)} MB`).toBeLessThan(30 * 1024 * 1024)
    expect(res.status).toBe(413)
    expect(res.headers.connection).toBe('close')
    expect((JSON.parse(res.body) as { message: string }).message).toMatch(/ADMIN_MAX_BODY_KB/)
  })

  it('a chunked body is refused with 413 as soon as it passes the limit', async () => {
    const before = peakRss(server.pid!)
    const res = await sendBig(`${server.url}${LOGIN}`, 40 * 1024 * 1024, { chunked: true })
    expect(res.status).toBe(413)
    // Answered long before the whole body went out (the limit is 1 MB).
    expect(res.sent).toBeLessThan(40 * 1024 * 1024)
    expect(peakRss(server.pid!) - before).toBeLessThan(30 * 1024 * 1024)
  })

  it('a chunked body under the limit reaches the handler, and a normal login still works', async () => {
    const padded = `${JSON.stringify(ADMIN)}${' '.repeat(900 * 1024)}`
    const res = await rawRequest(`${server.url}${LOGIN}`, { headers: json, body: padded, chunked: true })
    expect(res.status, res.body).toBe(200)
    expect((await loginToken(server)).token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
  })

  it('an authenticated admin route is bounded too (a 2 MB key description)', async () => {
    const { token } = await loginToken(server)
    const res = await rawRequest(`${server.url}/api/admin/api-keys`, {
      headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify({ name: 'big', description: 'x'.repeat(2 * 1024 * 1024) }),
    })
    expect(res.status).toBe(413)
  })
})

describe('CSRF: cookie-authenticated admin writes must come from the console', () => {
  const server = new TestServer()
  let token = ''
  beforeAll(async () => {
    await server.start()
    token = (await loginToken(server)).token
  })
  afterAll(async () => {
    await server.stop()
  })

  const attackerAccount = { type: 'console', name: 'csrf', apiUrl: 'https://attacker.example', apiKey: 'sk-ant-api03-attacker-controlled' }
  const form = new URLSearchParams(attackerAccount).toString()
  const accountNames = async () => (await server.admin<{ items: { name: string }[] }>('GET', '/api/admin/claude-accounts')).body.items.map(a => a.name)

  it.each([
    ['JSON', 'application/json', JSON.stringify(attackerAccount)],
    ['a form', 'application/x-www-form-urlencoded', form],
    ['text/plain', 'text/plain', JSON.stringify(attackerAccount)],
  ])('a foreign-Origin cookie POST (%s) creating an account is refused with 403', async (_label, type, body) => {
    const res = await rawRequest(`${server.url}/api/admin/claude-accounts`, {
      headers: { 'content-type': type, 'cookie': `crs_admin=${token}`, 'origin': 'https://attacker.example', 'sec-fetch-site': 'cross-site' }, body,
    })
    expect(res.status, res.body).toBe(403)
    expect((JSON.parse(res.body) as { message: string }).message).toMatch(/origin/i)
    expect(await accountNames()).not.toContain('csrf')
  })

  it('a cookie POST with neither Origin nor Sec-Fetch-Site is refused; Origin: null too', async () => {
    for (const extra of [{}, { origin: 'null' }, { 'sec-fetch-site': 'same-site' }] as Record<string, string>[]) {
      const res = await rawRequest(`${server.url}/api/admin/auth/logout`, { headers: { cookie: `crs_admin=${token}`, ...extra } })
      expect(res.status, JSON.stringify(extra)).toBe(403)
    }
    expect((await server.admin('GET', '/api/admin/api-keys')).status).toBe(200)
  })

  it('the same POST with a same-origin Origin works; with a form body it gets 415', async () => {
    const origin = server.url
    const formRes = await rawRequest(`${server.url}/api/admin/claude-accounts`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'cookie': `crs_admin=${token}`, origin }, body: form,
    })
    expect(formRes.status, formRes.body).toBe(415)
    expect((JSON.parse(formRes.body) as { message: string }).message).toMatch(/application\/json/)

    const res = await rawRequest(`${server.url}/api/admin/claude-accounts`, {
      headers: { ...json, cookie: `crs_admin=${token}`, origin }, body: JSON.stringify({ ...attackerAccount, name: 'same-origin' }),
    })
    expect(res.status, res.body).toBe(201)
    // Sec-Fetch-Site: same-origin alone is enough (a browser that sends no Origin).
    const viaFetchMeta = await rawRequest(`${server.url}/api/admin/claude-accounts`, {
      headers: { ...json, 'cookie': `crs_admin=${token}`, 'sec-fetch-site': 'same-origin' }, body: JSON.stringify({ ...attackerAccount, name: 'fetch-meta' }),
    })
    expect(viaFetchMeta.status, viaFetchMeta.body).toBe(201)
    expect(await accountNames()).toEqual(expect.arrayContaining(['same-origin', 'fetch-meta']))
  })

  it('Bearer calls without Origin are unaffected', async () => {
    const res = await rawRequest(`${server.url}/api/admin/claude-accounts`, {
      headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify({ ...attackerAccount, name: 'bearer' }),
    })
    expect(res.status, res.body).toBe(201)
  })

  it('cookie GETs need no Origin (reads change nothing)', async () => {
    const res = await rawRequest(`${server.url}/api/admin/api-keys`, { method: 'GET', headers: { cookie: `crs_admin=${token}` } })
    expect(res.status).toBe(200)
  })

  it('the anonymous login route takes JSON only (415 for a form or text/plain)', async () => {
    for (const [type, body] of [['application/x-www-form-urlencoded', new URLSearchParams(ADMIN).toString()], ['text/plain', JSON.stringify(ADMIN)]] as const) {
      const res = await rawRequest(`${server.url}${LOGIN}`, { headers: { 'content-type': type }, body })
      expect(res.status, type).toBe(415)
      expect(res.headers['set-cookie']).toBeUndefined()
    }
    const noType = await rawRequest(`${server.url}${LOGIN}`, { body: JSON.stringify(ADMIN) })
    expect(noType.status).toBe(415)
  })

  it('behind TRUST_PROXY, an Origin matching X-Forwarded-Host/-Proto is same-origin', async () => {
    const proxied = new TestServer({ TRUST_PROXY: '1' })
    await proxied.start()
    try {
      const t = (await loginToken(proxied)).token
      const send = (headers: Record<string, string>) => rawRequest(`${proxied.url}/api/admin/auth/logout`, { headers: { cookie: `crs_admin=${t}`, ...headers } })
      expect((await send({ 'origin': 'https://evil.example', 'x-forwarded-host': 'relay.example.com', 'x-forwarded-proto': 'https' })).status).toBe(403)
      expect((await send({ 'origin': 'http://relay.example.com', 'x-forwarded-host': 'relay.example.com', 'x-forwarded-proto': 'https' })).status).toBe(403)
      expect((await send({ 'origin': 'https://relay.example.com', 'x-forwarded-host': 'relay.example.com', 'x-forwarded-proto': 'https' })).status).toBe(200)
    }
    finally {
      await proxied.stop()
    }
  })

  it('without TRUST_PROXY, X-Forwarded-Host does not make a foreign Origin same-origin', async () => {
    const res = await rawRequest(`${server.url}/api/admin/auth/logout`, {
      headers: { 'cookie': `crs_admin=${token}`, 'origin': 'https://relay.example.com', 'x-forwarded-host': 'relay.example.com', 'x-forwarded-proto': 'https' },
    })
    expect(res.status).toBe(403)
  })
})

describe('login throttling per IP+username and per IP (TRUST_PROXY=1 simulates client IPs)', () => {
  const server = startedServer({ TRUST_PROXY: '1' })

  const attempt = (ip: string, username: string, password: string) =>
    rawRequest(`${server.url}${LOGIN}`, { headers: { ...json, 'x-forwarded-for': ip }, body: JSON.stringify({ username, password }) })

  it('an attacker locked out for "admin" does not lock the owner out from another IP', async () => {
    const attacker = '198.51.100.66'
    for (let i = 1; i <= 5; i++) expect((await attempt(attacker, ADMIN.username, `guess-${i}`)).status, `guess ${i}`).toBe(401)
    const blocked = await attempt(attacker, ADMIN.username, ADMIN.password)
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0)
    // The owner, elsewhere, with the right password.
    expect((await attempt('203.0.113.5', ADMIN.username, ADMIN.password)).status).toBe(200)
    // A spoofed left part of X-Forwarded-For is not the client's address.
    expect((await attempt(`203.0.113.5, ${attacker}`, ADMIN.username, ADMIN.password)).status).toBe(429)
  })

  it('one IP trying many usernames hits its own larger bucket, and only that IP', async () => {
    const ip = '198.51.100.77'
    for (let i = 1; i <= 20; i++) expect((await attempt(ip, `probe-${i}`, 'wrong')).status, `attempt ${i}`).toBe(401)
    expect((await attempt(ip, 'probe-21', 'wrong')).status).toBe(429)
    expect((await attempt(ip, ADMIN.username, ADMIN.password)).status).toBe(429)
    expect((await attempt('198.51.100.78', ADMIN.username, ADMIN.password)).status).toBe(200)
  })

  it('an IPv6 attacker cannot escape the per-IP bucket by changing addresses inside a /64', async () => {
    for (let i = 1; i <= 5; i++) expect((await attempt(`2001:db8:5:6::${i}`, ADMIN.username, 'wrong')).status).toBe(401)
    expect((await attempt('2001:db8:5:6::99', ADMIN.username, ADMIN.password)).status).toBe(429)
    expect((await attempt('2001:db8:5:7::1', ADMIN.username, ADMIN.password)).status).toBe(200)
  })

  it('no counter is keyed by the username alone (nothing an attacker fills for everyone)', async () => {
    const keys = (await server.redis.keys(`${server.prefix}login_fail:*`)).map(k => k.slice(server.prefix.length))
    expect(keys.length).toBeGreaterThan(0)
    expect(keys.filter(k => k.startsWith('login_fail:user:'))).toEqual([])
    for (const key of keys) {
      const ttl = await server.redis.ttl(key)
      expect(ttl, key).toBeGreaterThan(0)
      expect(ttl, key).toBeLessThanOrEqual(900)
    }
  })
})

describe('login throttling with TRUST_PROXY off', () => {
  const server = startedServer()

  it('X-Forwarded-For is ignored: rotating it does not get more guesses', async () => {
    for (let i = 1; i <= 5; i++) {
      const res = await rawRequest(`${server.url}${LOGIN}`, { headers: { ...json, 'x-forwarded-for': `198.51.100.${i}` }, body: JSON.stringify({ username: ADMIN.username, password: 'wrong' }) })
      expect(res.status).toBe(401)
    }
    const res = await rawRequest(`${server.url}${LOGIN}`, { headers: { ...json, 'x-forwarded-for': '198.51.100.99' }, body: JSON.stringify(ADMIN) })
    expect(res.status).toBe(429)
  })
})

describe('session cookie Secure flag', () => {
  it('behind TRUST_PROXY, X-Forwarded-Proto: https makes the cookie Secure', async () => {
    const server = await new TestServer({ TRUST_PROXY: '1' }).start()
    try {
      expect((await loginToken(server, { 'x-forwarded-proto': 'https' })).setCookie.toLowerCase()).toMatch(/;\s*secure(;|$)/)
      expect((await loginToken(server, { 'x-forwarded-proto': 'http' })).setCookie.toLowerCase()).not.toMatch(/;\s*secure(;|$)/)
    }
    finally {
      await server.stop()
    }
  })

  it('without TRUST_PROXY, X-Forwarded-Proto is ignored (plain http: no Secure)', async () => {
    const server = await new TestServer().start()
    try {
      const { setCookie } = await loginToken(server, { 'x-forwarded-proto': 'https' })
      expect(setCookie).toMatch(/^crs_admin=/)
      expect(setCookie.toLowerCase()).not.toMatch(/;\s*secure(;|$)/)
    }
    finally {
      await server.stop()
    }
  })
})

describe('a password change through the API ends the admin\'s other sessions', () => {
  const server = startedServer()

  const status = async (token: string) => (await rawRequest(`${server.url}/api/admin/auth/me`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status

  it('two logins; changing the password with one revokes the other, the first stays valid', async () => {
    const first = (await loginToken(server)).token
    const second = (await loginToken(server)).token
    const adminId = decodeJwt(first).sub!
    expect(await server.redis.zrange(`admin_sessions:${adminId}`, 0, -1)).toEqual(expect.arrayContaining([decodeJwt(first).jti, decodeJwt(second).jti]))

    const res = await rawRequest(`${server.url}/api/admin/auth/password`, {
      headers: { ...json, authorization: `Bearer ${first}` }, body: JSON.stringify({ currentPassword: ADMIN.password, newPassword: 'a-brand-new-password' }),
    })
    expect(res.status, res.body).toBe(200)
    expect(await status(second)).toBe(401)
    expect(await status(first)).toBe(200)
    expect(await server.redis.exists(`session:${decodeJwt(second).jti}`)).toBe(0)
    expect(await server.redis.zrange(`admin_sessions:${adminId}`, 0, -1)).toEqual([decodeJwt(first).jti])
  })

  it('a session missing from the index does not work (every live session is one a password change can end)', async () => {
    const { token } = await rawRequest(`${server.url}${LOGIN}`, { headers: json, body: JSON.stringify({ username: ADMIN.username, password: 'a-brand-new-password' }) })
      .then(r => JSON.parse(r.body) as { token: string })
    expect(await status(token)).toBe(200)
    await server.redis.zrem(`admin_sessions:${decodeJwt(token).sub}`, decodeJwt(token).jti!)
    expect(await status(token)).toBe(401)
  })

  it('the session index expires with the sessions it lists', async () => {
    const { token } = await rawRequest(`${server.url}${LOGIN}`, { headers: json, body: JSON.stringify({ username: ADMIN.username, password: 'a-brand-new-password' }) })
      .then(r => JSON.parse(r.body) as { token: string })
    const ttl = await server.redis.ttl(`admin_sessions:${decodeJwt(token).sub}`)
    expect(ttl).toBeGreaterThan(23 * 3600)
    expect(ttl).toBeLessThanOrEqual(24 * 3600)
  })
})

describe('the session index is bounded', () => {
  const server = startedServer()

  it('past 50 live sessions a login ends the oldest', async () => {
    const tokens: string[] = []
    for (let i = 0; i < 51; i++) tokens.push((await loginToken(server)).token)
    const adminId = decodeJwt(tokens[0]!).sub!
    expect(await server.redis.zcard(`admin_sessions:${adminId}`)).toBe(50)
    expect(await server.redis.exists(`session:${decodeJwt(tokens[0]!).jti}`)).toBe(0)
    const me = async (t: string) => (await rawRequest(`${server.url}/api/admin/auth/me`, { method: 'GET', headers: { authorization: `Bearer ${t}` } })).status
    expect(await me(tokens[0]!)).toBe(401)
    expect(await me(tokens[50]!)).toBe(200)
  }, 60_000)
})

describe('security headers on the console, static assets and the API', () => {
  const server = startedServer()

  const get = (path: string) => rawRequest(`${server.url}${path}`, { method: 'GET' })
  const sha = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`

  function expectCommon(res: { headers: IncomingHttpHeaders }, what: string): void {
    expect(res.headers['x-content-type-options'], what).toBe('nosniff')
    expect(res.headers['referrer-policy'], what).toBe('no-referrer')
    expect(res.headers['x-powered-by'], what).toBeUndefined()
    expect(String(res.headers['content-security-policy']), what).toMatch(/frame-ancestors 'none'/)
  }

  it.each(['/web', '/web/login', '/web/keys'])('%s: CSP allowing exactly its inline scripts by hash', async (path) => {
    const res = await get(path)
    expect(res.status).toBe(200)
    expectCommon(res, path)
    const csp = String(res.headers['content-security-policy'])
    const scriptSrc = /script-src ([^;]*)/.exec(csp)![1]!.split(' ')
    expect(scriptSrc).not.toContain('\'unsafe-inline\'')
    expect(scriptSrc).not.toContain('\'unsafe-eval\'')
    const inline = [...res.body.matchAll(/<script(?![^>]*\ssrc=)(?![^>]*type="application\/json")[^>]*>([\s\S]*?)<\/script>/g)].map(m => m[1]!)
    expect(inline.length).toBeGreaterThan(0) // the theme script at least
    for (const body of inline) expect(scriptSrc, body.slice(0, 60)).toContain(sha(body))
  })

  it('a static asset: nosniff, no x-powered-by', async () => {
    const page = await get('/web')
    const asset = /src="(\/_nuxt\/[^"]+\.js)"/.exec(page.body)![1]!
    const res = await get(asset)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/javascript/)
    expectCommon(res, asset)
  })

  it.each(['/health', '/api/admin/auth/me', '/api/v1/models', '/no-such-page'])('%s: nosniff, no x-powered-by', async (path) => {
    expectCommon(await get(path), path)
  })
})
