import { claudeAccounts, geminiAccounts } from '../accounts'
import { closePools, usePools } from '../accounts/pools'
import { useConfig } from '../config'
import { useLogger } from '../logging'
import { useRedis } from '../store/redis'

/**
 * The connection-pool manager: once Redis is up, a pool per active account is created and warmed
 * (POOL_WARM_CONNECTIONS each, through the account's proxy); a light check every
 * POOL_HEALTH_CHECK_SECONDS (idle shrink, age rotation, warm top-up) and a performance sample every
 * POOL_SAMPLE_SECONDS. Account changes re-warm or drop pools (accounts/index.ts). Closed on shutdown.
 */
export default defineNitroPlugin((nitroApp) => {
  const { pools } = useConfig()
  const log = useLogger()
  const timers: NodeJS.Timeout[] = []
  const start = () => {
    const t0 = performance.now()
    Promise.all([claudeAccounts.warmPools(), geminiAccounts.warmPools()])
      .then(() => log.info({ pools: usePools().summary().total, ms: Math.round(performance.now() - t0) }, 'connection pools warmed'))
      .catch(err => log.warn({ reason: (err as Error).message }, 'connection pools not warmed'))
  }
  const redis = useRedis()
  if (redis.status === 'ready') start()
  else redis.once('ready', start)

  const every = (ms: number, fn: () => unknown) => {
    if (!ms) return
    const t = setInterval(() => {
      try {
        void Promise.resolve(fn()).catch(err => log.warn({ reason: (err as Error).message }, 'connection pool task failed'))
      }
      catch (err) {
        log.warn({ reason: (err as Error).message }, 'connection pool task failed')
      }
    }, ms)
    t.unref()
    timers.push(t)
  }
  every(pools.healthCheckMs, () => usePools().check())
  every(pools.sampleMs, () => usePools().sample())

  nitroApp.hooks.hook('close', async () => {
    for (const t of timers) clearInterval(t)
    await closePools()
  })
})
