import { claudeAccounts, geminiAccounts } from '../accounts'
import { isAvailable } from '../accounts/state'
import { useConfig } from '../config'
import { useTokenLogger } from '../logging'

/**
 * Background token refresher: renews OAuth tokens that expire within OAUTH_REFRESH_AHEAD_MINUTES,
 * so requests rarely wait for a refresh. Refreshes are single-flight across instances, so every
 * instance may run this loop. Accounts whose refresh failed retry when their error state ends.
 */
export default defineNitroPlugin((nitroApp) => {
  const { tokenRefresher } = useConfig()
  if (!tokenRefresher.intervalMs) return
  const log = useTokenLogger()
  let running = false
  const tick = async () => {
    if (running) return
    running = true
    try {
      for (const service of [claudeAccounts, geminiAccounts]) {
        const due = (await service.list()).filter(a => a.type === 'oauth' && a.isActive && a.oauth
          && isAvailable(a.state) && a.oauth.expiresAt - Date.now() < tokenRefresher.aheadMs)
        for (const account of due) {
          await service.ensureFreshToken(account, { aheadMs: tokenRefresher.aheadMs })
            .catch(() => { /* logged by the service, retried with backoff */ })
        }
      }
    }
    catch (err) {
      log.warn({ reason: (err as Error).message }, 'token refresher pass failed')
    }
    finally {
      running = false
    }
  }
  const timer = setInterval(() => void tick(), tokenRefresher.intervalMs)
  timer.unref()
  nitroApp.hooks.hook('close', () => clearInterval(timer))
})
