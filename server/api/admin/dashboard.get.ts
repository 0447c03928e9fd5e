import { effectiveState } from '../../accounts/state'
import { dashboardUsage } from '../../usage/stats'

// Today and all-time usage, RPM/TPM, keys, and accounts of both platforms by state.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const [usage, keys, claude, gemini] = await Promise.all([dashboardUsage(useRedis()), useRedis().zcard('api_key_index'), claudeAccounts.list(), geminiAccounts.list()])
  const accounts = [...claude, ...gemini]
  const byState: Record<string, number> = { active: 0, rate_limited: 0, overloaded: 0, cooldown: 0, error: 0, blocked: 0, disabled: 0 }
  for (const a of accounts) byState[a.isActive ? effectiveState(a.state).state : 'disabled']! += 1
  return {
    usage,
    keys: { total: keys },
    accounts: { total: accounts.length, active: accounts.filter(a => a.isActive).length, byState, byPlatform: { claude: claude.length, gemini: gemini.length } },
  }
})
