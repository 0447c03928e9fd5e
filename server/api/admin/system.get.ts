import { healthReport } from '../../system/health'

// System information for the settings screen: version, uptime, Node, Redis, pools and account counts.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const [health, info] = await Promise.all([healthReport(), useRedis().info('server').catch(() => '')])
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? null
  return {
    version: health.version, uptime: health.uptime, node: process.version, status: health.status,
    redis: { ...health.components.redis, version: redisVersion },
    connectionPools: health.components.connectionPools,
  }
})
