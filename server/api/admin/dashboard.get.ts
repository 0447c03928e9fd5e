import { poolHeadroom } from '../../accounts/pool-headroom'
import { effectiveState } from '../../accounts/state'
import { readLost } from '../../usage/lost'
import { rk } from '../../store/keys'
import { dashboardUsage } from '../../usage/stats'

const LOST_ON_DASHBOARD = 5

// Today and all-time usage, RPM/TPM, keys, accounts of both platforms by state, the newest requests
// lost to a crash, and the subscriptions' 5-hour headroom (from the scheduler's in-process copy:
// its figures are exact, the stored ones drift up to a minute behind).
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const [usage, keys, claude, gemini, lost, roster] = await Promise.all([
    dashboardUsage(useRedis()), useRedis().zcard(rk.apiKeyIndex()), claudeAccounts.list(), geminiAccounts.list(), readLost(useRedis(), LOST_ON_DASHBOARD),
    claudeAccounts.all(),
  ])
  const accounts = [...claude, ...gemini]
  const byState: Record<string, number> = { active: 0, rate_limited: 0, overloaded: 0, cooldown: 0, error: 0, blocked: 0, disabled: 0 }
  for (const a of accounts) byState[a.isActive ? effectiveState(a.state).state : 'disabled']! += 1
  return {
    usage,
    keys: { total: keys },
    lost,
    poolHeadroom: poolHeadroom(roster),
    accounts: { total: accounts.length, active: accounts.filter(a => a.isActive).length, byState, byPlatform: { claude: claude.length, gemini: gemini.length } },
  }
})
