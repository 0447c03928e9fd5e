import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody, rawRequest } from '../helpers/client'
import { freePort, TestServer, testSecrets } from '../helpers/server'

// Issue 13: Redis faults lose nothing. The relay runs on a private redis-server (AOF on) that the
// test kills, restarts and pauses under load: no 500s, a limited key gets a quick 503 with
// retry-after, keys without limits keep flowing, and every answered request is recorded once.

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

class PrivateRedis {
  proc: ChildProcess | null = null
  readonly dir = mkdtempSync(join(tmpdir(), 'crs-redis-'))
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' })
    const client = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    client.on('error', () => {})
    for (let i = 0; i < 100; i++) {
      try {
        await client.connect()
        if (await client.ping() === 'PONG') break
      }
      catch { await sleep(50) }
    }
    client.disconnect()
  }

  async kill(): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null) return
    p.kill('SIGKILL')
    await new Promise(r => p.once('exit', r))
  }

  signal(s: NodeJS.Signals): void {
    this.proc?.kill(s)
  }
}

interface Tally { sent: number, statuses: Record<number, number>, maxMs: number }

/** `clients` loops sending one request each until `stopAt`; statuses and the slowest answer. */
async function load(send: () => Promise<{ status: number }>, clients: number, stopAt: number): Promise<Tally> {
  const t: Tally = { sent: 0, statuses: {}, maxMs: 0 }
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < stopAt) {
      const started = Date.now()
      t.sent++
      const { status } = await send().catch(() => ({ status: -1 }))
      t.statuses[status] = (t.statuses[status] ?? 0) + 1
      t.maxMs = Math.max(t.maxMs, Date.now() - started)
      if (status !== 200) await sleep(20)
    }
  }))
  return t
}

const upstream = new FakeAnthropic()
let redis: PrivateRedis
let server: TestServer
const dataDir = mkdtempSync(join(tmpdir(), 'crs-data-'))
const secrets = testSecrets()
let free = { id: '', apiKey: '' }
let limited = { id: '', apiKey: '' }

const env = () => ({ ...secrets, REDIS_URL: redis.url, DATA_DIR: dataDir, REDIS_COMMAND_TIMEOUT_MS: '1000', API_KEY_CACHE_SECONDS: '3600' })
const send = (apiKey: string) => rawRequest(`${server.url}/api/v1/messages`, { headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: messageBody() })
const requestsOf = async (id: string) =>
  (await server.admin<{ usage: { total: { requests: number } } }>('GET', `/api/admin/api-keys/${id}/usage`)).body.usage.total.requests
const journal = async () => ((await (await fetch(`${server.url}/health`)).json()) as { components: { usageJournal: { queued: number, spilled: number } } }).components.usageJournal

beforeAll(async () => {
  await upstream.start()
  redis = new PrivateRedis(await freePort())
  await redis.start()
  server = await new TestServer(env(), { redisUrl: redis.url }).start()
  await server.createConsoleAccount(upstream.url)
  free = await server.createKey({ name: 'no limits' })
  limited = await server.createKey({ name: 'limited', rateLimitWindow: 60, rateLimitRequests: 100_000 })
  // Warm both keys into the relay's cache.
  expect((await send(free.apiKey)).status).toBe(200)
  expect((await send(limited.apiKey)).status).toBe(200)
}, 60_000)
afterAll(async () => {
  redis.signal('SIGCONT')
  await server.stop()
  await redis.kill()
  await upstream.stop()
})

describe('Redis faults', () => {
  it('SIGKILL and restart (AOF) under load: no 500, every 200 recorded exactly once (with and without limits)', async () => {
    const before = { free: await requestsOf(free.id), limited: await requestsOf(limited.id) }
    const stopAt = Date.now() + 7000
    const tallies = Promise.all([load(() => send(free.apiKey), 4, stopAt), load(() => send(limited.apiKey), 4, stopAt)])
    await sleep(2000)
    const killedAt = Date.now()
    await redis.kill()
    await sleep(2000)
    await redis.start()
    const [f, l] = await tallies
    const recoveredAt = Date.now()
    console.log('redis SIGKILL + restart', JSON.stringify({ free: f, limited: l, downMs: recoveredAt - killedAt }))
    for (const t of [f, l]) {
      expect(t.statuses[500] ?? 0).toBe(0)
      expect(t.statuses[-1] ?? 0).toBe(0)
      expect(t.statuses[200] ?? 0).toBeGreaterThan(0)
    }
    // While Redis was down the limited key was refused (503), never kept waiting.
    expect(l.statuses[503] ?? 0).toBeGreaterThan(0)
    expect(l.maxMs).toBeLessThan(3000)
    await expect.poll(async () => (await journal()).queued + (await journal()).spilled, { timeout: 15_000 }).toBe(0)
    expect(await requestsOf(free.id) - before.free).toBe(f.statuses[200])
    expect(await requestsOf(limited.id) - before.limited).toBe(l.statuses[200])
  }, 60_000)

  it('SIGSTOP: a limited key gets 503 + retry-after within the bound, a key without limits flows; SIGCONT recovers', async () => {
    const before = await requestsOf(free.id)
    redis.signal('SIGSTOP')
    try {
      await sleep(200)
      const started = Date.now()
      const refused = await send(limited.apiKey)
      const refusedMs = Date.now() - started
      console.log('redis SIGSTOP: limited key answered', refused.status, 'in', refusedMs, 'ms')
      expect(refused.status).toBe(503)
      expect(refusedMs).toBeLessThan(3000)
      expect(refused.headers['retry-after']).toBe('2')
      expect(JSON.parse(refused.body)).toMatchObject({ type: 'error', error: { message: expect.stringMatching(/store is unavailable/) } })
      for (let i = 0; i < 3; i++) expect((await send(free.apiKey)).status).toBe(200)
      // Their records wait in the journal once their writes time out: up to two command timeouts,
      // as each request's in-flight entry (not awaited) went first and ioredis sends one
      // auto-pipeline at a time.
      await expect.poll(async () => (await journal()).queued, { timeout: 5000 }).toBeGreaterThan(0)
    }
    finally {
      redis.signal('SIGCONT')
    }
    const resumedAt = Date.now()
    await expect.poll(async () => (await send(limited.apiKey)).status, { timeout: 10_000 }).toBe(200)
    console.log('redis SIGCONT: limited key served again after', Date.now() - resumedAt, 'ms')
    await expect.poll(async () => (await journal()).queued, { timeout: 10_000 }).toBe(0)
    expect(await requestsOf(free.id) - before).toBe(3)
  }, 60_000)

  it('a price table to rebuild during the outage (another instance changed a price): every 200 still recorded', async () => {
    const before = await requestsOf(free.id)
    // What another instance sends after an admin edits a price: this one drops its table and
    // rebuilds it (reading the overrides from Redis) at its next recording.
    await server.redis.publish(`${server.prefix}events:invalidate`, 'pricing')
    await sleep(200)
    await redis.kill()
    for (let i = 0; i < 3; i++) expect((await send(free.apiKey)).status).toBe(200)
    await redis.start()
    await expect.poll(async () => (await journal()).queued + (await journal()).spilled, { timeout: 15_000 }).toBe(0)
    await expect.poll(async () => requestsOf(free.id), { timeout: 5000 }).toBe(before + 3)
  }, 60_000)

  it('shutdown with a backlog: the records wait in DATA_DIR and land after the next start', async () => {
    const before = await requestsOf(free.id)
    await redis.kill()
    for (let i = 0; i < 4; i++) expect((await send(free.apiKey)).status).toBe(200)
    await server.stop({ keepData: true })
    await redis.start()
    server = await new TestServer(env(), { redisUrl: redis.url, prefix: server.prefix }).start()
    await expect.poll(async () => requestsOf(free.id), { timeout: 10_000 }).toBe(before + 4)
    expect(await journal()).toEqual({ status: 'empty', queued: 0, spilled: 0 })
  }, 60_000)
})
