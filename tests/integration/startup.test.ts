import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { type AddressInfo, type Socket, createServer } from 'node:net'
import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { version } from '../../package.json'
import { ADMIN, REDIS_URL, TestServer, freePort, runServerToExit, testSecrets } from '../helpers/server'

// Should a broken config ever start a server, it writes under this prefix (cleaned below), not
// at the top level of the shared Redis.
const PREFIX = `test:${randomBytes(6).toString('hex')}:`
const base = { REDIS_URL, REDIS_KEY_PREFIX: PREFIX, ADMIN_PASSWORD: ADMIN.password }

afterAll(async () => {
  const redis = new Redis(REDIS_URL)
  const keys = await redis.keys(`${PREFIX}*`)
  if (keys.length) await redis.del(...keys)
  redis.disconnect()
})

function without(env: Record<string, string>, ...names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !names.includes(k)))
}

describe('start-up configuration errors', () => {
  it('missing JWT_SECRET → non-zero exit naming JWT_SECRET', async () => {
    const r = await runServerToExit({ ...base, ...without(testSecrets(), 'JWT_SECRET') })
    expect(r.code).not.toBe(0)
    expect(r.code).not.toBeNull() // null: it kept running until killed
    expect(r.stderr).toContain('JWT_SECRET')
    expect(r.stderr).not.toMatch(/ENCRYPTION_KEY|API_KEY_SALT/)
  })

  it('a port already in use → non-zero exit with one line naming the port', async () => {
    const port = await freePort()
    const holder = createServer().listen(port, '127.0.0.1')
    await once(holder, 'listening')
    try {
      const r = await runServerToExit({ ...base, ...testSecrets(), PORT: String(port), REDIS_KEY_PREFIX: `test:port:${port}:` })
      expect(r.code).toBe(1)
      const lines = r.stderr.split('\n').filter(l => l.includes(String(port)))
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(/already in use/)
      expect(r.stderr).not.toMatch(/uncaughtException|at Server\./)
    }
    finally {
      holder.close()
    }
  })

  it('a 12-character ENCRYPTION_KEY → non-zero exit naming ENCRYPTION_KEY, 32 and 12', async () => {
    const r = await runServerToExit({ ...base, ...testSecrets(), ENCRYPTION_KEY: 'abcdefghijkl' })
    expect(r.code).not.toBe(0)
    expect(r.code).not.toBeNull()
    const line = r.stderr.split('\n').find(l => l.includes('ENCRYPTION_KEY'))
    expect(line, r.stderr).toBeDefined()
    expect(line).toMatch(/\b32\b/)
    expect(line).toMatch(/\b12\b/)
    // The bad value itself is not echoed.
    expect(r.stderr + r.stdout).not.toContain('abcdefghijkl')
  })

  it('missing API_KEY_SALT → non-zero exit naming API_KEY_SALT', async () => {
    const r = await runServerToExit({ ...base, ...without(testSecrets(), 'API_KEY_SALT') })
    expect(r.code).not.toBe(0)
    expect(r.code).not.toBeNull()
    expect(r.stderr).toContain('API_KEY_SALT')
  })

  it('a short JWT_SECRET is named with its length, without echoing it', async () => {
    const r = await runServerToExit({ ...base, ...testSecrets(), JWT_SECRET: 'short-secret' })
    expect(r.code).not.toBe(0)
    expect(r.code).not.toBeNull()
    expect(r.stderr).toMatch(/JWT_SECRET.*32/)
    expect(r.stderr + r.stdout).not.toContain('short-secret')
  })

  it('several problems at once are all named in one run', async () => {
    const r = await runServerToExit({ ...base, ENCRYPTION_KEY: 'abcdefghijkl' })
    expect(r.code).not.toBe(0)
    expect(r.code).not.toBeNull()
    for (const name of ['JWT_SECRET', 'ENCRYPTION_KEY', 'API_KEY_SALT']) expect(r.stderr).toContain(name)
  })

  it('an unreachable Redis → non-zero exit within 15 s naming REDIS_URL and how to get Redis', async () => {
    const port = await freePort() // free, so nothing listens: connections are refused
    const started = Date.now()
    const r = await runServerToExit({ ...testSecrets(), REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_KEY_PREFIX: PREFIX }, 25_000)
    const elapsed = Date.now() - started
    expect(r.code).not.toBeNull()
    expect(r.code).not.toBe(0)
    expect(elapsed).toBeLessThan(15_000)
    expect(r.stderr).toContain('REDIS_URL')
    expect(r.stderr).toMatch(/redis-server|docker|install/i)
  }, 40_000)

  it('an unreachable REDIS_HOST/REDIS_PORT → non-zero exit naming REDIS_HOST', async () => {
    const port = await freePort()
    const r = await runServerToExit({ ...testSecrets(), REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port), REDIS_KEY_PREFIX: PREFIX }, 25_000)
    expect(r.code).not.toBeNull()
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('REDIS_HOST')
    expect(r.stderr).toContain(String(port))
  }, 40_000)

  it('a Redis that accepts connections but never answers → non-zero exit after the connect timeout', async () => {
    // A black hole: TCP connects, no byte ever comes back, so only the boot's own timeout can end it.
    const sockets = new Set<Socket>()
    const hole = createServer(s => sockets.add(s.on('error', () => {}))).listen(0, '127.0.0.1')
    await once(hole, 'listening')
    try {
      const started = Date.now()
      const r = await runServerToExit({ ...testSecrets(), REDIS_URL: `redis://127.0.0.1:${(hole.address() as AddressInfo).port}`, REDIS_KEY_PREFIX: PREFIX }, 40_000)
      // The boot gives Redis 10 s; allow start-up time on a loaded machine on top.
      expect(Date.now() - started).toBeLessThan(20_000)
      expect(r.code).not.toBeNull()
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain('REDIS_URL')
      expect(r.stderr).toMatch(/redis-server|docker|install/i)
    }
    finally {
      for (const s of sockets) s.destroy()
      hole.close()
    }
  }, 60_000)
})

describe('running server', () => {
  const a = new TestServer()
  // Same build, different runtime env: another port, admin name and password.
  const b = new TestServer({ ADMIN_USERNAME: 'ops-admin', ADMIN_PASSWORD: 'ops-password-123' })
  beforeAll(async () => {
    await Promise.all([a.start(), b.start()])
  })
  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()])
  })

  async function loginStatus(s: TestServer, username: string, password: string): Promise<number> {
    const res = await fetch(`${s.url}/api/admin/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
    })
    await res.arrayBuffer()
    return res.status
  }

  it('GET /health → 200 with status, Redis latency, version and uptime', async () => {
    const res = await fetch(`${a.url}/health`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    const body = await res.json() as Record<string, unknown>
    expect(body).toMatchObject({
      status: 'healthy',
      components: { redis: { status: 'healthy', latencyMs: expect.any(Number) } },
      version,
      uptime: expect.any(Number),
    })
    const { latencyMs } = (body.components as { redis: { latencyMs: number } }).redis
    expect(latencyMs).toBeGreaterThanOrEqual(0)
    expect(latencyMs).toBeLessThan(1000)
    expect(body.uptime).toBeGreaterThanOrEqual(0)
  })

  it('reads PORT and ADMIN_USERNAME when the process starts, not at build time', async () => {
    expect(new URL(a.url).port).not.toBe(new URL(b.url).port)
    for (const s of [a, b]) expect((await fetch(`${s.url}/health`)).status).toBe(200)

    expect(await loginStatus(b, 'ops-admin', 'ops-password-123')).toBe(200)
    expect(await loginStatus(b, ADMIN.username, ADMIN.password)).toBe(401)
    expect(await loginStatus(a, ADMIN.username, ADMIN.password)).toBe(200)
    expect(await loginStatus(a, 'ops-admin', 'ops-password-123')).toBe(401)

    // Each wrote its admin under its own REDIS_KEY_PREFIX.
    expect(await b.redis.exists('admin_username:ops-admin')).toBe(1)
    expect(await b.redis.exists(`admin_username:${ADMIN.username}`)).toBe(0)
    expect(await a.redis.exists('admin_username:ops-admin')).toBe(0)
  })
})
