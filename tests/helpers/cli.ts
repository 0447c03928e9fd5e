import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import Redis from 'ioredis'
import { writeState, writeWindow } from '../../server/accounts/state'
import { type Account, createAccount } from '../../server/accounts/store'
import { createAdmin } from '../../server/admin/users'
import { createApiKey } from '../../server/keys/records'
import { channels, rk } from '../../server/store/keys'
import { defineScripts } from '../../server/store/scripts'
import { recordUsage } from '../../server/usage/record'
import { REDIS_URL, testSecrets } from './server'

export interface CliResult { code: number | null, stdout: string, stderr: string }

// What `npx tsx scripts/…` ends up running (tsx's CLI starts node with its loader), minus the npx
// lookup and tsx's extra parent process: each CLI start costs about half the CPU time.
const NODE_ARGS = ['--import', 'tsx']

/**
 * A private REDIS_KEY_PREFIX with secrets, a client on it (scripts defined) and a runner for the
 * CLI tools against it, each run a child process like `npx tsx scripts/cli.ts …` from a shell.
 */
export class CliSandbox {
  readonly redis: Redis
  readonly secrets: Record<string, string>
  private subscriber?: Redis
  readonly published: string[] = []

  /** `prefix` runs the tools on another's data (a TestServer's); by default a fresh one. */
  constructor(secrets: Record<string, string> = testSecrets(), readonly prefix = `test:cli:${randomBytes(6).toString('hex')}:`) {
    this.secrets = secrets
    this.redis = defineScripts(new Redis(REDIS_URL, { keyPrefix: this.prefix }))
  }

  get encKey(): string {
    return this.secrets.ENCRYPTION_KEY!
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return { PATH: process.env.PATH ?? '', CRS_SKIP_DOTENV: '1', REDIS_URL, REDIS_KEY_PREFIX: this.prefix, ...this.secrets, ...extra }
  }

  /** Run `scripts/<script>` with args; `input` is piped to stdin (stdin is closed either way). */
  run(script: string, args: string[], opts: { input?: string, env?: Record<string, string> } = {}): Promise<CliResult> {
    const child = spawn(process.execPath, [...NODE_ARGS, `scripts/${script}`, ...args], { env: this.env(opts.env), stdio: ['pipe', 'pipe', 'pipe'] })
    const out = { stdout: '', stderr: '' }
    child.stdout.on('data', (d: Buffer) => out.stdout += d)
    child.stderr.on('data', (d: Buffer) => out.stderr += d)
    child.stdin.end(opts.input ?? '')
    return new Promise((done, fail) => {
      child.once('error', fail)
      child.once('close', code => done({ code, ...out }))
    })
  }

  cli = (...args: string[]) => this.run('cli.ts', args)

  /** Collect the invalidation messages published on this prefix (what running servers would hear). */
  async listen(): Promise<void> {
    this.subscriber = new Redis(REDIS_URL)
    this.subscriber.on('message', (_ch: string, msg: string) => this.published.push(msg))
    await this.subscriber.subscribe(this.prefix + channels.invalidate)
  }

  async close(): Promise<void> {
    await wipe(this.redis, this.prefix)
    this.subscriber?.disconnect()
    this.redis.disconnect()
  }
}

/** Delete every key under `prefix` (`redis` has that keyPrefix). */
export async function wipe(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length) await redis.del(...keys.map(k => k.slice(prefix.length)))
}

/**
 * Every key under `prefix` with its type, its contents in a stable order (hash fields and set
 * members sorted; lists in order) and whether it expires: equal snapshots = equal Redis data.
 */
export async function snapshot(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const full of (await redis.keys(`${prefix}*`)).sort()) {
    const key = full.slice(prefix.length)
    const type = await redis.type(key)
    out[key] = { type, value: await contents(redis, key, type), expires: await redis.pttl(key) > 0 }
  }
  return out
}

async function contents(redis: Redis, key: string, type: string): Promise<unknown> {
  switch (type) {
    case 'string': return redis.get(key)
    case 'hash': return Object.entries(await redis.hgetall(key)).sort(([a], [b]) => a.localeCompare(b))
    case 'set': return (await redis.smembers(key)).sort()
    case 'zset': return redis.zrange(key, 0, -1, 'WITHSCORES')
    case 'list': return redis.lrange(key, 0, -1)
    default: return `<${type}>`
  }
}

export const CONSOLE_KEY = 'sk-ant-api03-console-secret-7f3a'
export const PROXY = 'socks5://proxyuser:proxy-pass-91c2@proxy.example.test:1080'
export const REFRESH_TOKEN = 'gemini-refresh-token-5d21'

/** A small installation: two keys, a Claude and a Gemini account (state, window), an admin, a price override, usage. */
export async function seedDataset(redis: Redis, secrets: Record<string, string>) {
  const salt = secrets.API_KEY_SALT!
  const enc = secrets.ENCRYPTION_KEY!
  const k1 = await createApiKey(redis, salt, { name: 'alpha', tags: ['team-a'], rateLimitWindow: 1, rateLimitRequests: 10 })
  const k2 = await createApiKey(redis, salt, { name: 'beta', allowedModels: ['claude-sonnet-*'] })
  const claude = await createAccount(redis, enc, 'claude', { name: 'console-1', type: 'console', apiKey: CONSOLE_KEY, proxy: PROXY })
  const gemini: Account = await createAccount(redis, enc, 'gemini', {
    name: 'gemini-1', type: 'oauth',
    oauth: { accessToken: 'ya29.access', refreshToken: REFRESH_TOKEN, expiresAt: Date.now() + 3_600_000, scopes: ['a'], email: 'g@example.test', organization: null },
  })
  const now = Date.now()
  await writeState(redis, 'claude', claude.id, { state: 'rate_limited', reason: 'upstream 429', since: now, until: now + 600_000 })
  await writeWindow(redis, 'claude', claude.id, { status: 'allowed', resetAt: null, seenAt: new Date(now).toISOString() })
  await createAdmin(redis, 'root', 'root-password-1')
  await redis.hset(rk.pricingOverride(), 'claude-sonnet-4-5', JSON.stringify({ input_cost_per_token: 0.000003, output_cost_per_token: 0.000015 }))
  for (const [key, model] of [[k1, 'claude-sonnet-4-5'], [k2, 'claude-haiku-4-5']] as const) {
    await recordUsage(redis, {
      requestId: `seed-${key.record.id}`, keyId: key.record.id, accountId: claude.id, model, usage: { inputTokens: 100, outputTokens: 20, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 5 },
      costMicros: 1234, priced: true, counted: true, aborted: false, status: 200, durationMs: 50, at: new Date(), windowStart: '', leaseId: '',
    })
  }
  return { keys: [k1, k2], claude, gemini }
}
