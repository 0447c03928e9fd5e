import { execSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import Redis from 'ioredis'

/** Build the app once for every integration file, and fail early when Redis does not answer. */
export default async function setup(): Promise<void> {
  const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  try {
    await redis.connect()
    await redis.ping()
  }
  catch (err) {
    throw new Error(`Integration tests need Redis at ${url} (set REDIS_URL, or run .ci/run which starts one): ${(err as Error).message}`)
  }
  finally {
    redis.disconnect()
  }
  if (process.env.E2E_SKIP_BUILD === '1' && existsSync(resolve('.output/server/index.mjs'))) return
  execSync('npx nuxt build', { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NUXT_TELEMETRY_DISABLED: '1' } })
}
