import { randomBytes } from 'node:crypto'
import { SignJWT, decodeJwt, type JWTPayload } from 'jose'
import { Agent, fetch, type Response } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keysContaining } from '../helpers/redis-dump'
import { ADMIN, TestServer } from '../helpers/server'

// Known secret, so tests can sign tokens the server must accept (controls) or reject.
const JWT_SECRET = randomBytes(24).toString('hex')
const ISSUER = 'claude-relay-service'

// Loopback is 127.0.0.0/8: binding the client side to 127.0.0.x lets tests log in "from"
// different IPs, so the per-IP and per-username throttles can be told apart.
const agents = new Map<string, Agent>()
function fromIp(ip: string): Agent {
  if (!agents.has(ip)) agents.set(ip, new Agent({ localAddress: ip }))
  return agents.get(ip)!
}

async function login(server: TestServer, username: string, password: string, opts: { ip?: string, headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(`${server.url}/api/admin/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...opts.headers },
    body: JSON.stringify({ username, password }),
    dispatcher: opts.ip ? fromIp(opts.ip) : undefined,
  })
}

async function loginOk(server: TestServer): Promise<{ token: string, expiresAt: string, cookie: string }> {
  const res = await login(server, ADMIN.username, ADMIN.password)
  expect(res.status).toBe(200)
  const body = await res.json() as { token: string, expiresAt: string }
  const cookie = res.headers.getSetCookie().find(c => c.startsWith('crs_admin='))
  return { ...body, cookie: cookie?.split(';')[0] ?? '' }
}

/** GET an admin endpoint with the given auth headers; returns the status. */
async function adminStatus(server: TestServer, headers: Record<string, string>, path = '/api/admin/api-keys'): Promise<number> {
  const res = await fetch(`${server.url}${path}`, { headers })
  await res.arrayBuffer()
  return res.status
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const cookie = (token: string) => ({ cookie: `crs_admin=${token}` })

async function sign(payload: JWTPayload, secret: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await cond()) return true
    await new Promise(r => setTimeout(r, 50))
  }
  return cond()
}

afterAll(async () => {
  await Promise.all([...agents.values()].map(a => a.close()))
})

describe('admin login and sessions', () => {
  const server = new TestServer({ JWT_SECRET })
  beforeAll(async () => {
    await server.start()
  })
  afterAll(async () => {
    await server.stop()
  })

  it('login returns {token, expiresAt} and a strict HttpOnly session cookie', async () => {
    const before = Date.now()
    const res = await login(server, ADMIN.username, ADMIN.password)
    expect(res.status).toBe(200)
    const body = await res.json() as { token: string, expiresAt: string }
    expect(Object.keys(body).sort()).toEqual(['expiresAt', 'token'])
    expect(body.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    // Default session length is 24 h.
    const exp = Date.parse(body.expiresAt)
    expect(exp).toBeGreaterThan(before + 23 * 3600_000)
    expect(exp).toBeLessThan(before + 25 * 3600_000)

    const setCookie = res.headers.getSetCookie().find(c => c.startsWith('crs_admin='))
    expect(setCookie).toBeDefined()
    const [pair, ...attrs] = setCookie!.split(';').map(s => s.trim())
    expect(pair).toBe(`crs_admin=${body.token}`)
    const lower = attrs.map(a => a.toLowerCase())
    expect(lower).toContain('httponly')
    expect(lower).toContain('samesite=strict')
    expect(lower).toContain('path=/')
    // Plain http here: a Secure cookie would never come back from a browser.
    expect(lower).not.toContain('secure')

    // The session record behind the token expires with it.
    const { jti } = decodeJwt(body.token)
    const ttl = await server.redis.ttl(`session:${jti}`)
    expect(ttl).toBeGreaterThan(23 * 3600)
    expect(ttl).toBeLessThanOrEqual(24 * 3600)
  })

  it('the token works as Authorization: Bearer, and the cookie alone works too', async () => {
    const s = await loginOk(server)
    const res = await fetch(`${server.url}/api/admin/api-keys`, { headers: bearer(s.token) })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ items: expect.any(Array), total: expect.any(Number) })
    expect(s.cookie).toBe(`crs_admin=${s.token}`)
    expect(await adminStatus(server, { cookie: s.cookie })).toBe(200)
    expect(await adminStatus(server, { cookie: s.cookie }, '/api/admin/claude-accounts')).toBe(200)
  })

  it('a wrong password and an unknown user get the same 401, and no cookie', async () => {
    const wrong = await login(server, ADMIN.username, 'not-the-password')
    const unknown = await login(server, 'nobody-here', ADMIN.password)
    expect(wrong.status).toBe(401)
    expect(unknown.status).toBe(401)
    const [a, b] = await Promise.all([wrong.json(), unknown.json()]) as { message: string }[]
    // Same answer either way, so the API does not reveal which usernames exist.
    expect(a!.message).toBe(b!.message)
    expect(a!.message).toMatch(/invalid username or password/i)
    expect(wrong.headers.getSetCookie()).toEqual([])
    expect(unknown.headers.getSetCookie()).toEqual([])
    // A good login clears the failures so the rest of this file is not throttled.
    await loginOk(server)
  })

  it('a malformed login body gets 400, not 401 or 500', async () => {
    for (const body of ['{"username":"admin"}', 'not json', '{"username":"","password":"x"}']) {
      const res = await fetch(`${server.url}/api/admin/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      expect(res.status, body).toBe(400)
      await res.arrayBuffer()
    }
  })

  it.each([
    ['GET', '/api/admin/api-keys'],
    ['POST', '/api/admin/api-keys'],
    ['GET', '/api/admin/api-keys/3f1c2a8e-8d3b-4a57-9b1e-2f4f5f3c6d7e'],
    ['DELETE', '/api/admin/api-keys/3f1c2a8e-8d3b-4a57-9b1e-2f4f5f3c6d7e'],
    ['GET', '/api/admin/claude-accounts'],
    ['POST', '/api/admin/claude-accounts'],
    ['POST', '/api/admin/auth/logout'],
  ])('%s %s without a token → 401', async (method, path) => {
    const res = await fetch(`${server.url}${path}`, {
      method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? JSON.stringify({ name: 'x' }) : undefined,
    })
    expect(res.status).toBe(401)
    expect((await res.json() as { message: string }).message).toMatch(/login/i)
  })

  it('garbage tokens are rejected as bearer and as cookie', async () => {
    for (const headers of [
      bearer('garbage'), bearer('a.b.c'), { authorization: 'Bearer ' }, { authorization: 'Basic YWRtaW46eA==' },
      cookie('garbage'), cookie(''),
    ]) {
      expect(await adminStatus(server, headers), JSON.stringify(headers)).toBe(401)
    }
  })

  it('a token signed with another secret is rejected (same claims signed right are accepted)', async () => {
    const live = decodeJwt((await loginOk(server)).token)
    const claims = { username: live.username, sub: live.sub, jti: live.jti, iss: ISSUER, iat: live.iat, exp: live.exp }
    const forged = await sign(claims, randomBytes(24).toString('hex'))
    expect(await adminStatus(server, bearer(forged))).toBe(401)
    expect(await adminStatus(server, cookie(forged))).toBe(401)
    // Control: the very same claims with the server's secret pass, so only the signature failed.
    expect(await adminStatus(server, bearer(await sign(claims, JWT_SECRET)))).toBe(200)
  })

  it('a correctly signed token is still rejected without a live session, when expired, or unsigned', async () => {
    const live = decodeJwt((await loginOk(server)).token)
    const now = Math.floor(Date.now() / 1000)
    // Signed with the right secret, but no session record: logout/revocation must be enforceable.
    const noSession = await sign({ sub: live.sub, jti: randomBytes(24).toString('base64url'), iss: ISSUER, iat: now, exp: now + 3600 }, JWT_SECRET)
    expect(await adminStatus(server, bearer(noSession))).toBe(401)
    // A live session, but the token's own expiry has passed.
    const expired = await sign({ sub: live.sub, jti: live.jti, iss: ISSUER, iat: now - 7200, exp: now - 3600 }, JWT_SECRET)
    expect(await adminStatus(server, bearer(expired))).toBe(401)
    // A live session pointing at another admin id.
    const otherSub = await sign({ sub: '00000000-0000-4000-8000-000000000000', jti: live.jti, iss: ISSUER, iat: now, exp: now + 3600 }, JWT_SECRET)
    expect(await adminStatus(server, bearer(otherSub))).toBe(401)
    // alg "none": no signature at all.
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: live.sub, jti: live.jti, iss: ISSUER, iat: now, exp: now + 3600 })}.`
    expect(await adminStatus(server, bearer(unsigned))).toBe(401)
  })

  it('logout revokes the token for bearer and cookie use, and clears the cookie', async () => {
    const other = await loginOk(server)
    const s = await loginOk(server)
    expect(await adminStatus(server, bearer(s.token))).toBe(200)

    const res = await fetch(`${server.url}/api/admin/auth/logout`, { method: 'POST', headers: bearer(s.token) })
    expect(res.status).toBe(200)
    const cleared = res.headers.getSetCookie().find(c => c.startsWith('crs_admin='))
    expect(cleared).toMatch(/^crs_admin=;/)
    expect(cleared).toMatch(/max-age=0|expires=thu, 01 jan 1970/i)

    expect(await adminStatus(server, bearer(s.token))).toBe(401)
    expect(await adminStatus(server, cookie(s.token))).toBe(401)
    expect(await server.redis.exists(`session:${decodeJwt(s.token).jti}`)).toBe(0)
    // Only that session ends: another login of the same admin keeps working.
    expect(await adminStatus(server, bearer(other.token))).toBe(200)
  })

  it('logout with only the cookie revokes that session too', async () => {
    const s = await loginOk(server)
    // A browser sends its Origin with every POST; a cookie POST without one is refused as cross-site.
    const res = await fetch(`${server.url}/api/admin/auth/logout`, { method: 'POST', headers: { ...cookie(s.token), origin: server.url } })
    expect(res.status).toBe(200)
    expect(await adminStatus(server, cookie(s.token))).toBe(401)
    expect(await adminStatus(server, bearer(s.token))).toBe(401)
  })

  it('stores the admin password only as a scrypt hash', async () => {
    const id = await server.redis.get(`admin_username:${ADMIN.username}`)
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    const admin = await server.redis.hgetall(`admin:${id}`)
    expect(admin.username).toBe(ADMIN.username)
    expect(admin.passwordHash).toMatch(/^scrypt\$/)
    expect(admin.passwordHash).not.toContain(ADMIN.password)
    // Not in that record, nor anywhere else under this server's prefix.
    expect(await keysContaining(server.redis, server.prefix, ADMIN.password)).toEqual([])
  })
})

describe('login throttling (per IP and username, and per IP; 15 min window)', () => {
  // Its own server: these tests leave IPs and the admin username blocked for 15 minutes.
  const server = new TestServer()
  beforeAll(async () => {
    await server.start()
  })
  afterAll(async () => {
    await server.stop()
  })

  function expectRetryAfter(res: Response): void {
    const ra = Number(res.headers.get('retry-after'))
    expect(Number.isInteger(ra)).toBe(true)
    expect(ra).toBeGreaterThan(0)
    expect(ra).toBeLessThanOrEqual(900)
  }

  it('20 failures from one IP block every username from that IP, and only that IP', async () => {
    const ip = '127.0.0.21'
    for (let i = 1; i <= 20; i++) {
      const res = await login(server, `probe-user-${i}`, 'wrong-password', { ip })
      expect(res.status, `attempt ${i}`).toBe(401)
    }
    const other = await login(server, 'probe-user-21', 'wrong-password', { ip })
    expect(other.status).toBe(429)
    expectRetryAfter(other)
    expect((await other.json() as { message: string }).message).toMatch(/too many/i)

    // Even the right credentials: the block is checked before the password.
    const right = await login(server, ADMIN.username, ADMIN.password, { ip })
    expect(right.status).toBe(429)
    expectRetryAfter(right)

    // A spoofed X-Forwarded-For does not get around it (the socket address counts).
    const spoofed = await login(server, ADMIN.username, ADMIN.password, { ip, headers: { 'x-forwarded-for': '10.9.8.7' } })
    expect(spoofed.status).toBe(429)

    // Another IP is not affected (and the admin username itself is not blocked).
    expect((await login(server, ADMIN.username, ADMIN.password, { ip: '127.0.0.22' })).status).toBe(200)
  })

  it('5 failures for one username from one IP block that pair, even with the right password — not the owner elsewhere', async () => {
    const ip = '127.0.0.31'
    for (let i = 1; i <= 5; i++) {
      const res = await login(server, ADMIN.username, `wrong-${i}`, { ip })
      expect(res.status, `attempt ${i}`).toBe(401)
    }
    const sixth = await login(server, ADMIN.username, ADMIN.password, { ip })
    expect(sixth.status).toBe(429)
    expectRetryAfter(sixth)
    expect(sixth.headers.getSetCookie()).toEqual([])
    // The IP it came from is fine for other usernames.
    expect((await login(server, 'someone-else', 'wrong', { ip })).status).toBe(401)
    // A username-wide lock would let anyone lock the owner out: from another IP the admin still logs in.
    expect((await login(server, ADMIN.username, ADMIN.password, { ip: '127.0.0.36' })).status).toBe(200)
  })

  it('failure counters live in Redis with a TTL of at most 15 minutes', async () => {
    const keys = (await server.redis.keys(`${server.prefix}login_fail:*`)).map(k => k.slice(server.prefix.length))
    expect(keys).toEqual(expect.arrayContaining(['login_fail:ip:127.0.0.21', `login_fail:ip_user:127.0.0.31:${ADMIN.username}`]))
    for (const key of keys) {
      const ttl = await server.redis.ttl(key)
      expect(ttl, key).toBeGreaterThan(0)
      expect(ttl, key).toBeLessThanOrEqual(900)
    }
    expect(Number(await server.redis.get('login_fail:ip:127.0.0.21'))).toBeGreaterThanOrEqual(20)
    expect(Number(await server.redis.get(`login_fail:ip_user:127.0.0.31:${ADMIN.username}`))).toBeGreaterThanOrEqual(5)
  })

  it('a burst of parallel wrong passwords gets at most 5 password checks', async () => {
    // Check-then-count must be atomic: otherwise N parallel requests all pass the check before any
    // failure is recorded, and an attacker gets N guesses per window instead of 5.
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      login(server, 'burst-user', `guess-${i}`, { ip: '127.0.0.41' }).then(async (r) => {
        await r.arrayBuffer()
        return r.status
      })))
    expect(results.every(s => s === 401 || s === 429)).toBe(true)
    expect(results.filter(s => s === 401).length).toBeLessThanOrEqual(5)
    expect(results.filter(s => s === 429).length).toBeGreaterThanOrEqual(7)
  }, 60_000)
})

describe('first-run bootstrap', () => {
  const servers: TestServer[] = []
  afterAll(async () => {
    // Last one started on a prefix cleans it (earlier ones were stopped with keepData).
    for (const s of servers.reverse()) await s.stop().catch(() => {})
  })

  // ADMIN_PASSWORD '' counts as unset; LOG_LEVEL info so "claude relay ready" marks the end of boot.
  const noPassword = { ADMIN_PASSWORD: '', LOG_LEVEL: 'info' }
  const created = /Admin user created: (\S+) \/ (\S+)/g
  const ready = (s: TestServer) => waitFor(() => s.output.includes('claude relay ready'), 15_000)

  async function adminIds(s: TestServer): Promise<string[]> {
    const keys = await s.redis.keys(`${s.prefix}admin:*`)
    return keys.map(k => k.slice(`${s.prefix}admin:`.length))
  }

  let generated = ''

  it('without ADMIN_PASSWORD, generates a password, prints it once, and it logs in', async () => {
    const first = new TestServer(noPassword)
    servers.push(first)
    await first.start()
    expect(await ready(first)).toBe(true)
    const matches = [...first.output.matchAll(created)]
    expect(matches).toHaveLength(1)
    const [, username, password] = matches[0]!
    expect(username).toBe(ADMIN.username)
    expect(password!.length).toBeGreaterThanOrEqual(16)
    generated = password!
    // Printed exactly once: not repeated by a log line.
    expect(first.output.split(generated).length - 1).toBe(1)

    expect((await login(first, ADMIN.username, generated)).status).toBe(200)
    // The helper's default password was not used.
    expect((await login(first, ADMIN.username, ADMIN.password)).status).toBe(401)
    const [id] = await adminIds(first)
    expect((await first.redis.hgetall(`admin:${id}`)).passwordHash).toMatch(/^scrypt\$/)
    expect(await keysContaining(first.redis, first.prefix, generated)).toEqual([])
  })

  it('a restart on the same data creates no second admin and prints no password', async () => {
    const first = servers[0]!
    expect(generated).not.toBe('')
    const idsBefore = await adminIds(first)
    expect(idsBefore).toHaveLength(1)
    await first.stop({ keepData: true })

    const second = new TestServer(noPassword, { prefix: first.prefix })
    servers.push(second)
    await second.start()
    expect(await ready(second)).toBe(true)
    expect(second.output).not.toMatch(/admin user created/i)
    expect(await adminIds(second)).toEqual(idsBefore)
    expect((await login(second, ADMIN.username, generated)).status).toBe(200)
  })

  it('two instances starting together on empty data create exactly one admin', async () => {
    const a = new TestServer(noPassword)
    const b = new TestServer(noPassword, { prefix: a.prefix })
    servers.push(a, b)
    await Promise.all([a.start(), b.start()])
    expect(await ready(a)).toBe(true)
    expect(await ready(b)).toBe(true)
    const printed = [...a.output.matchAll(created), ...b.output.matchAll(created)]
    expect(printed).toHaveLength(1)
    expect(await adminIds(a)).toHaveLength(1)
    expect(await a.redis.keys(`${a.prefix}admin_username:*`)).toHaveLength(1)
    const password = printed[0]![2]!
    expect((await login(a, ADMIN.username, password)).status).toBe(200)
    expect((await login(b, ADMIN.username, password)).status).toBe(200)
  })
})
