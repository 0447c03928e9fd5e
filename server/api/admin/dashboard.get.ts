import { dashboardUsage } from '../../usage/stats'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const [usage, keys, accounts] = await Promise.all([dashboardUsage(useRedis()), useRedis().zcard('api_key_index'), claudeAccounts.list()])
  return {
    usage,
    keys: { total: keys },
    accounts: { total: accounts.length, active: accounts.filter(a => a.isActive).length },
  }
})
