import { useRedis } from '../store/redis'
import { version } from '../../package.json'
import { usePools } from '../accounts/pools'
import { loggerState } from '../logging'

const started = Date.now()

/**
 * Liveness of each component: Redis down makes the whole service unhealthy; a connection pool that
 * cannot connect makes it degraded (totals only: no account names or proxy hosts).
 */
export async function healthReport() {
  const t0 = performance.now()
  let redis: { status: 'healthy' | 'unhealthy', latencyMs: number, error?: string }
  try {
    await Promise.race([
      useRedis().ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 1 s')), 1000).unref()),
    ])
    redis = { status: 'healthy', latencyMs: Math.round((performance.now() - t0) * 100) / 100 }
  }
  catch (err) {
    redis = { status: 'unhealthy', latencyMs: Math.round(performance.now() - t0), error: (err as Error).message }
  }
  const connectionPools = usePools().summary()
  const logger = loggerState()
  return {
    status: redis.status !== 'healthy' ? 'unhealthy' : connectionPools.status === 'healthy' && logger.status !== 'degraded' ? 'healthy' : 'degraded',
    components: { redis, connectionPools, logger },
    version,
    uptime: Math.round((Date.now() - started) / 1000),
  }
}
