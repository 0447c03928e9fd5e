import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import Redis from 'ioredis'
import { type Config, ConfigError, loadDotEnv, useConfig } from '../config'
import { channels } from '../store/keys'
import { redisOptions } from '../store/redis'
import { defineScripts } from '../store/scripts'
import { CliError } from './args'
import type { Output } from './output'

/**
 * Load the env file `npm start` uses (CRS_ENV_FILE, as in the Docker image, else `.env`); values
 * already in the environment win, and CRS_SKIP_DOTENV=1 skips files altogether.
 */
export function loadEnvFiles(): void {
  const file = process.env.CRS_ENV_FILE ? resolve(process.env.CRS_ENV_FILE) : null
  if (file && process.env.CRS_SKIP_DOTENV !== '1' && existsSync(file)) process.loadEnvFile(file)
  loadDotEnv()
}

/** The configuration (env and env file), with a config problem turned into a CLI failure naming each variable. */
function loadConfig(): Config {
  loadEnvFiles()
  try {
    return useConfig()
  }
  catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration (from the environment or .env):\n  ${err.lines.join('\n  ')}`)
    throw err
  }
}

/**
 * A connected client for a one-shot tool: the server's options (prefix, scripts), but it fails
 * at once instead of retrying forever, so a wrong REDIS_URL ends the command with a message.
 */
async function connectRedis(cfg: Config): Promise<Redis> {
  const opts = { ...redisOptions(cfg.redis), enableAutoPipelining: false, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: () => null }
  return connectOrFail(defineScripts(cfg.redis.url && !cfg.redis.sentinels ? new Redis(cfg.redis.url, opts) : new Redis(opts)), `Redis at ${cfg.redis.describe}`)
}

/** Connect a lazy client and PING it, or fail with a CliError naming `where` and the cause. */
export async function connectOrFail(redis: Redis, where: string): Promise<Redis> {
  // Errors surface through the rejected commands; without a listener ioredis prints them too.
  // The event carries the cause (ECONNREFUSED, auth); connect() itself only says the connection closed.
  let cause: Error | undefined
  redis.on('error', (err: Error) => cause = err)
  try {
    await redis.connect()
    await redis.ping()
  }
  catch (err) {
    redis.disconnect()
    throw new CliError(`cannot reach ${where}: ${(cause ?? err as Error).message}`)
  }
  return redis
}

/** What a command gets: output, stdin, and config/Redis opened on first use (help and health need neither). */
export class CliContext {
  private cfg?: Config
  private client?: Promise<Redis>

  constructor(readonly out: Output, readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean }) {}

  get json(): boolean {
    return this.out.json
  }

  config(): Config {
    return (this.cfg ??= loadConfig())
  }

  redis(): Promise<Redis> {
    return (this.client ??= connectRedis(this.config()))
  }

  /**
   * Tell running servers to drop their cached copy: a message built by `invalidation` (the
   * server's own services publish the same ones).
   */
  async invalidate(message: string): Promise<void> {
    const redis = await this.redis()
    await redis.publish(redis.options.keyPrefix + channels.invalidate, message)
  }

  async close(): Promise<void> {
    if (!this.client) return
    const redis = await this.client.catch(() => null)
    await redis?.quit().catch(() => redis.disconnect())
  }
}
