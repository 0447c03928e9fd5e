import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Redis from 'ioredis'
import { afterAll, beforeAll } from 'vitest'

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
export const ADMIN = { username: 'admin', password: 'test-admin-password' }

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => res(port))
    }).on('error', rej)
  })
}

/** Valid secrets for a test server (random each run). */
export function testSecrets(): Record<string, string> {
  return {
    JWT_SECRET: randomBytes(24).toString('hex'),
    ENCRYPTION_KEY: randomBytes(16).toString('hex'),
    API_KEY_SALT: randomBytes(16).toString('hex'),
  }
}

/** Run the built server once with `env` and collect its exit code and output (for start-up failures). */
export async function runServerToExit(env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [resolve('.output/server/index.mjs')], {
    cwd: mkdtempSync(join(tmpdir(), 'crs-test-')),
    env: { PATH: process.env.PATH ?? '', CRS_SKIP_DOTENV: '1', HOST: '127.0.0.1', PORT: String(await freePort()), ...env },
  })
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (d: Buffer) => out.stdout += d)
  child.stderr.on('data', (d: Buffer) => out.stderr += d)
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>(r => child.once('exit', c => r(c)))
  clearTimeout(timer)
  return { code, ...out }
}

/**
 * The built server (`.output/server/index.mjs`) in its own process, with its own key prefix in
 * the shared test Redis, so test files can run in parallel without seeing each other's data.
 */
export class TestServer {
  url = ''
  output = ''
  readonly prefix: string
  readonly redis: Redis
  private child?: ChildProcess
  private token?: string

  /**
   * `opts.prefix` reuses another server's key prefix (same Redis data), e.g. to restart on it;
   * by default every server gets a fresh random prefix.
   */
  constructor(private readonly env: Record<string, string> = {}, opts: { prefix?: string, redisUrl?: string } = {}) {
    this.prefix = opts.prefix ?? `test:${randomBytes(6).toString('hex')}:`
    this.redis = new Redis(opts.redisUrl ?? REDIS_URL, { keyPrefix: this.prefix })
    this.redis.on('error', () => { /* a test may stop its Redis on purpose; commands still reject */ })
  }

  /** The server process's id (to read its memory from /proc). */
  get pid(): number | undefined {
    return this.child?.pid
  }

  async start(): Promise<this> {
    const port = await freePort()
    this.url = `http://127.0.0.1:${port}`
    this.child = spawn(process.execPath, [resolve('.output/server/index.mjs')], {
      cwd: mkdtempSync(join(tmpdir(), 'crs-test-')),
      env: {
        PATH: process.env.PATH ?? '', CRS_SKIP_DOTENV: '1', HOST: '127.0.0.1', PORT: String(port),
        REDIS_URL, REDIS_KEY_PREFIX: this.prefix, ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password,
        // Upstream 5xx/529 take an account out of the pool for a while; most tests drive errors on
        // purpose against a single account, so these states end at once unless a test sets them.
        ACCOUNT_COOLDOWN_SECONDS: '0', ACCOUNT_OVERLOAD_MINUTES: '0',
        // Tests send the same conversation over and over; sticky routing would then override the
        // priority/LRU order they check. sticky.test.ts turns it on.
        STICKY_SESSION_TTL_SECONDS: '0',
        // Tests count the requests the fake upstream gets; the usage poller would add its own now and
        // then. headroom.test.ts turns it on.
        CLAUDE_USAGE_POLL_SECONDS: '0',
        LOG_LEVEL: 'warn', ...testSecrets(), ...this.env,
      },
    })
    const collect = (d: Buffer) => this.output += d
    this.child.stdout!.on('data', collect)
    this.child.stderr!.on('data', collect)
    const until = Date.now() + 15_000
    while (Date.now() < until) {
      if (this.child.exitCode !== null) throw new Error(`server exited (${this.child.exitCode}):\n${this.output}`)
      try {
        const res = await fetch(`${this.url}/health`)
        // The admin user is created right after Redis connects; wait for it too.
        if (res.ok && await this.redis.exists(`admin_username:${this.env.ADMIN_USERNAME || ADMIN.username}`)) return this
      }
      catch { /* not listening yet */ }
      await new Promise(r => setTimeout(r, 50))
    }
    throw new Error(`server did not come up:\n${this.output}`)
  }

  /** Stop the process, then delete the prefix's keys unless `keepData` (for a restart on the same prefix). */
  async stop({ keepData = false }: { keepData?: boolean } = {}): Promise<void> {
    const child = this.child
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await new Promise(r => child.once('exit', r))
    }
    if (keepData) {
      this.redis.disconnect()
      return
    }
    const keys = await this.redis.keys(`${this.prefix}*`)
    if (keys.length) await this.redis.del(...keys.map(k => k.slice(this.prefix.length)))
    this.redis.disconnect()
  }

  /** Kill the process with `signal` (e.g. SIGKILL: a crash) and wait for it to exit; Redis data is kept. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    child.kill(signal)
    await new Promise(r => child.once('exit', r))
  }

  /** An admin bearer token (logged in once per server). */
  async adminToken(): Promise<string> {
    if (!this.token) {
      const res = await fetch(`${this.url}/api/admin/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN),
      })
      if (!res.ok) throw new Error(`admin login failed: ${res.status} ${await res.text()}`)
      this.token = ((await res.json()) as { token: string }).token
    }
    return this.token
  }

  /** Call the admin API as the admin; returns status and parsed JSON. */
  async admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number, body: T }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'authorization': `Bearer ${await this.adminToken()}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: await res.json() as T }
  }

  /** Create an API key; returns its id and the plaintext key. */
  async createKey(fields: Record<string, unknown> = {}): Promise<{ id: string, apiKey: string }> {
    const { status, body } = await this.admin<{ id: string, apiKey: string }>('POST', '/api/admin/api-keys', { name: 'test key', ...fields })
    if (status !== 201) throw new Error(`create key failed: ${status} ${JSON.stringify(body)}`)
    return body
  }

  /**
   * Put every Claude account back into the pool: an upstream 429/5xx in one test must not leave
   * the account rate-limited or cooling down for the next (states are tested on their own).
   */
  async resetAccountStates(): Promise<void> {
    const { body } = await this.admin<{ items: { id: string }[] }>('GET', '/api/admin/claude-accounts')
    for (const a of body.items) await this.admin('POST', `/api/admin/claude-accounts/${a.id}/reset-state`)
  }

  /** Create a Console account pointing at `apiUrl`. */
  async createConsoleAccount(apiUrl: string, fields: Record<string, unknown> = {}): Promise<{ id: string }> {
    const { status, body } = await this.admin<{ id: string }>('POST', '/api/admin/claude-accounts', {
      type: 'console', name: 'console', apiUrl, apiKey: 'sk-ant-api03-test-upstream-key', ...fields,
    })
    if (status !== 201) throw new Error(`create account failed: ${status} ${JSON.stringify(body)}`)
    return body
  }
}

/** A TestServer started before the tests of the file (or `describe` block) it is called in, and stopped after them. */
export function startedServer(env: Record<string, string> = {}, opts: { prefix?: string, redisUrl?: string } = {}): TestServer {
  const server = new TestServer(env, opts)
  beforeAll(() => server.start())
  afterAll(() => server.stop())
  return server
}
