import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, stopAll } from '../../bench/procs'
import { countLegacyHashes } from '../../server/keys/legacy'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { crsDayToUtc } from '../../server/migrate/crs/usage'
import { crsDate, type CrsFixture, FIXTURE_MODEL, KEY_ALLTIME, KEY_DAYS, writeCrsFixture } from '../fixtures/crs'
import { FakeGemini } from '../fixtures/gemini-upstream'
import { HttpConnectProxy, Socks5Proxy } from '../fixtures/proxies'
import { messageBody, rawRequest } from '../helpers/client'
import { REDIS_URL, TestServer, testSecrets } from '../helpers/server'

const CRS_SECRET = `crs-${randomBytes(12).toString('hex')}`
const OFFSET = 8
const CLAUDE_CODE = 'claude-cli/2.0.0 (external, cli)'

/** Every key of a Redis with its type and value: equal snapshots mean nothing was written. */
async function snapshot(redis: Redis): Promise<string> {
  const keys = (await redis.keys('*')).sort()
  const out: string[] = []
  for (const k of keys) {
    const type = await redis.type(k)
    const value = type === 'hash' ? await redis.hgetall(k) : type === 'set' ? (await redis.smembers(k)).sort() : await redis.get(k)
    out.push(`${k} ${type} ${JSON.stringify(value)} ${await redis.ttl(k)}`)
  }
  return out.join('\n')
}

/** Every key under a prefix of the shared Redis, with values (TTLs vary by the second, so left out). */
async function prefixSnapshot(redis: Redis, prefix: string): Promise<string> {
  const raw = new Redis(REDIS_URL)
  try {
    const keys = (await raw.keys(`${prefix}*`)).map(k => k.slice(prefix.length)).sort()
    const out: string[] = []
    for (const k of keys) {
      const type = await redis.type(k)
      const value = type === 'hash' ? await redis.hgetall(k) : type === 'set' ? (await redis.smembers(k)).sort() : type === 'zset' ? await redis.zrange(k, 0, -1, 'WITHSCORES') : await redis.get(k)
      out.push(`${k} ${type} ${JSON.stringify(value)}`)
    }
    return out.join('\n')
  }
  finally {
    raw.disconnect()
  }
}

describe('npm run migrate:crs', () => {
  const anthropic = new FakeAnthropic()
  const gemini = new FakeGemini()
  const socks = new Socks5Proxy({ user: 'crs-socks', pass: `p@ss:w/${randomBytes(4).toString('hex')}` })
  const http = new HttpConnectProxy({ user: 'crs-http', pass: `h#t%p ${randomBytes(4).toString('hex')}` })
  const secrets = testSecrets()
  let server: TestServer
  let crs: Redis
  let crsUrl = ''
  let fx: CrsFixture
  const now = new Date()

  function migrate(...args: string[]) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/migrate-crs.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', CRS_SKIP_DOTENV: '1', REDIS_URL, REDIS_KEY_PREFIX: server.prefix, ...secrets }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out = { stdout: '', stderr: '' }
    child.stdout.on('data', (d: Buffer) => out.stdout += d)
    child.stderr.on('data', (d: Buffer) => out.stderr += d)
    return new Promise<{ code: number | null, stdout: string, stderr: string }>(done => child.once('close', code => done({ code, ...out })))
  }
  const run = (...extra: string[]) => migrate('--redis', crsUrl, '--crs-encryption-key', CRS_SECRET, '--json', ...extra)

  beforeAll(async () => {
    await Promise.all([anthropic.start(), gemini.start(), socks.start(), http.start()])
    const r = await startRedis()
    crsUrl = r.url
    crs = new Redis(crsUrl)
    server = await new TestServer({ ...secrets, CLAUDE_API_URL: anthropic.url, GEMINI_API_URL: gemini.url, GEMINI_CODE_ASSIST_URL: gemini.url }).start()
    const proxy = (p: Socks5Proxy | HttpConnectProxy, type: 'socks5' | 'http') => ({ type, host: '127.0.0.1', port: p.port, username: p.auth!.user, password: p.auth!.pass })
    fx = await writeCrsFixture(crs, { secret: CRS_SECRET, now, offsetHours: OFFSET, consoleUrl: anthropic.url, geminiBaseUrl: gemini.url, socks: proxy(socks, 'socks5'), http: proxy(http, 'http') })
    gemini.addApiKey(fx.tokens.geminiKey)
    gemini.addAccessToken(fx.tokens.geminiAccess)
    gemini.addProject('fixture-project-7')
  })

  afterAll(async () => {
    crs?.disconnect()
    await server?.stop()
    await Promise.all([anthropic.stop(), gemini.stop(), socks.stop(), http.stop()])
    await stopAll()
  })

  it('a wrong --crs-encryption-key stops at the first encrypted record and writes nothing', async () => {
    const before = await prefixSnapshot(server.redis, server.prefix)
    const res = await migrate('--redis', crsUrl, '--crs-encryption-key', 'not-the-crs-key')
    expect(res.code, res.stderr).toBe(1)
    expect(res.stderr).toMatch(/--crs-encryption-key does not decrypt claude-oauth account .* field (refreshToken|accessToken).*nothing was written/)
    expect(await prefixSnapshot(server.redis, server.prefix)).toBe(before)
  })

  it('--dry-run prints counts per kind and every problem, and writes nothing', async () => {
    const before = await prefixSnapshot(server.redis, server.prefix)
    const res = await run('--dry-run')
    expect(res.code, res.stderr).toBe(0)
    const out = JSON.parse(res.stdout)
    expect(out.found).toMatchObject({ apiKeys: 4, deletedKeys: 1, accounts: { 'claude-oauth': 1, 'claude-console': 1, 'gemini-oauth': 1, 'gemini-api': 1 }, unsupported: { OpenAI: 1, Bedrock: 1 } })
    expect(out.willImport).toMatchObject({ apiKeys: 4, accounts: { claude: 2, gemini: 2 }, usage: { keyDays: 2, olderDays: 1 } })
    for (const p of [/OpenAI account\(s\)/, /Bedrock account\(s\)/, /weeklyOpusCostLimit/, /codex_cli/, /imported disabled/, /user agent override is dropped/]) {
      expect(out.problems.some((line: string) => p.test(line)), `${p}`).toBe(true)
    }
    expect(res.stdout).not.toContain(fx.tokens.claudeAccess)
    expect(await prefixSnapshot(server.redis, server.prefix)).toBe(before)
  })

  it('imports; never writes to the CRS Redis; a second run changes nothing', async () => {
    const crsBefore = await snapshot(crs)
    const dbsize = await crs.dbsize()
    const first = await run()
    expect(first.code, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout).result).toMatchObject({ apiKeys: { written: 4, unchanged: 0 }, accounts: { written: 4, unchanged: 0 } })
    const afterFirst = await prefixSnapshot(server.redis, server.prefix)
    const second = await run()
    expect(second.code, second.stderr).toBe(0)
    expect(JSON.parse(second.stdout).result).toMatchObject({ apiKeys: { written: 0, unchanged: 4 }, accounts: { written: 0, unchanged: 4 } })
    expect(await prefixSnapshot(server.redis, server.prefix)).toBe(afterFirst)
    expect(await crs.dbsize()).toBe(dbsize)
    expect(await snapshot(crs)).toBe(crsBefore)
  })

  it('a rerun replaces its share of a usage bucket: what the relay counted there meanwhile stays', async () => {
    const day = `usage:day:${crsDayToUtc(crsDate(now, 1, OFFSET), OFFSET)}`
    const imported = (await server.redis.hget(day, '*'))!.split(',').map(Number)
    // As if the relay had served 2 requests (5 input tokens, 7 micro-USD) on that day since.
    const served = imported.map((n, i) => n + [2, 5, 0, 0, 0, 0, 7, 0][i]!)
    await server.redis.hset(day, '*', served.join(','))
    const res = await run()
    expect(res.code, res.stderr).toBe(0)
    expect(await server.redis.hget(day, '*')).toBe(served.join(','))
  })

  it('keys keep id, limits, bindings and tags; the CRS hash is a legacy hash (no api_key_hash entry)', async () => {
    const { status, body } = await server.admin<Record<string, unknown>>('GET', `/api/admin/api-keys/${fx.keys.full.id}`)
    expect(status).toBe(200)
    expect(body).toMatchObject({
      id: fx.keys.full.id, name: 'team full', tags: ['team-a', 'vip'], concurrencyLimit: 3, rateLimitWindow: 60, rateLimitRequests: 100, rateLimitCost: 5,
      rateLimitTokens: 1_000_000, tokenLimit: 0, dailyCostLimit: 10, totalCostLimit: 1000, blockedModels: ['claude-opus-4-1-20250805'],
      claudeAccountId: fx.ids.claudeOAuth, geminiAccountId: fx.ids.geminiOAuth, isActive: true,
    })
    expect(await server.redis.hget(`api_key:${fx.keys.full.id}`, 'hash')).toBe('')
    expect(await countLegacyHashes(server.redis)).toBe(4)
    const openai = await server.admin<Record<string, unknown>>('GET', `/api/admin/api-keys/${fx.keys.openaiOnly.id}`)
    expect(openai.body).toMatchObject({ isActive: false })
    expect((await server.admin('GET', `/api/admin/api-keys/${fx.keys.deleted.id}`)).status).toBe(404)
  })

  it.each([
    ['Claude OAuth (SOCKS5 proxy with auth)', () => fx.ids.claudeOAuth, socks],
    ['Claude Console (HTTP proxy with auth)', () => fx.ids.claudeConsole, http],
  ] as const)('%s serves a request with its decrypted credential, through its proxy', async (_, id, proxy) => {
    const key = await server.createKey({ claudeAccountId: id() })
    anthropic.requests.length = 0
    const res = await rawRequest(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': key.apiKey, 'content-type': 'application/json', 'user-agent': CLAUDE_CODE }, body: messageBody(),
    })
    expect(res.status, res.body).toBe(200)
    const sent = anthropic.requests.at(-1)!
    if (id() === fx.ids.claudeOAuth) expect(sent.headers.authorization).toBe(`Bearer ${fx.tokens.claudeAccess}`)
    else expect(sent.headers['x-api-key']).toBe(fx.tokens.consoleKey)
    // The proxy accepted the URL-encoded credentials and carried the request (its tunnel's port is the upstream's remote port).
    expect(proxy.connections.filter(t => t.user === proxy.auth!.user).map(t => t.localPort)).toContain(sent.remotePort)
  })

  it.each([
    ['Gemini OAuth (Code Assist, its project)', () => fx.ids.geminiOAuth, () => fx.tokens.geminiAccess],
    ['Gemini API key', () => fx.ids.geminiApi, () => fx.tokens.geminiKey],
  ] as const)('%s serves a request with its decrypted credential', async (_, id, credential) => {
    const key = await server.createKey({ geminiAccountId: id(), permissions: 'gemini' })
    gemini.reset()
    const res = await rawRequest(`${server.url}/gemini/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST', headers: { 'x-goog-api-key': key.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    })
    expect(res.status, res.body).toBe(200)
    expect(gemini.requests.some(r => r.credential === credential())).toBe(true)
  })

  it('usage: recent days in day buckets (UTC day ids), all-time totals including older history', async () => {
    const { body: { usage: body } } = await server.admin<{ usage: { total: { requests: number, cost: number, models: Record<string, { requests: number }> }, daily: { date: string, requests: number, cacheCreate1h: number }[] } }>(
      'GET', `/api/admin/api-keys/${fx.keys.full.id}/usage?days=7`)
    expect(body.total.requests).toBe(KEY_ALLTIME.requests)
    expect(body.total.cost).toBeCloseTo(KEY_ALLTIME.cost, 6)
    expect(body.total.models[FIXTURE_MODEL]?.requests).toBe(KEY_ALLTIME.requests)
    const recent = KEY_DAYS.filter(([ago]) => ago < 90)
    expect(body.daily.reduce((n, d) => n + d.requests, 0)).toBe(recent.reduce((n, [, r]) => n + r, 0))
    expect(body.daily.reduce((n, d) => n + d.cacheCreate1h, 0)).toBe(recent.reduce((n, d) => n + d[5], 0))
  })

  it('a CRS user\'s own cr_ key works unchanged, and is moved to this relay\'s HMAC on first use', async () => {
    const { id, plaintext } = fx.keys.console
    const legacyBefore = await countLegacyHashes(server.redis)
    expect(await server.redis.hget(`api_key:${id}`, 'hash')).toBe('')
    const send = () => rawRequest(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': plaintext, 'content-type': 'application/json', 'user-agent': CLAUDE_CODE }, body: messageBody(),
    })
    const first = await send()
    expect(first.status, first.body).toBe(200)
    expect(anthropic.requests.at(-1)!.headers['x-api-key']).toBe(fx.tokens.consoleKey)
    expect(await server.redis.hget(`api_key:${id}`, 'hash')).toMatch(/^[0-9a-f]{64}$/)
    expect(await countLegacyHashes(server.redis)).toBe(legacyBefore - 1)
    expect((await send()).status).toBe(200)
  })
})
