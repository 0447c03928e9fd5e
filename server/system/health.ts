import { useRedis } from '../store/redis'
import { version } from '../../package.json'
import { usePools } from '../accounts/pools'
import { loggerState } from '../logging'
import { usageBacklog } from '../usage/journal-store'

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
  // Usage records waiting for Redis (written once it answers): a backlog is degraded, not lost.
  const backlog = usageBacklog()
  const usageJournal = { status: backlog.queued + backlog.spilled ? 'backlog' as const : 'empty' as const, ...backlog }
  return {
    status: redis.status !== 'healthy' ? 'unhealthy' : connectionPools.status === 'healthy' && logger.status !== 'degraded' && usageJournal.status === 'empty' ? 'healthy' : 'degraded',
    components: { redis, connectionPools, logger, usageJournal },
    version,
    uptime: Math.round((Date.now() - started) / 1000),
  }
}
