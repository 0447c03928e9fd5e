import { useConfig } from '../config'
import { useLogger } from '../logging'
import { pollDueAccounts } from '../protocols/anthropic/usage-poll'
import { useRedis } from '../store/redis'

/**
 * Background usage poller: asks Anthropic's OAuth usage endpoint for the headroom of every
 * subscription account every CLAUDE_USAGE_POLL_SECONDS (0 = off). Every instance runs the loop;
 * the schedule and a lock in Redis make each account's poll happen once. It checks at least every
 * minute, so a schedule written by another instance (or a 429's backoff) is kept to closely.
 */
export default defineNitroPlugin((nitroApp) => {
  const { intervalMs } = useConfig().claude.usage
  if (!intervalMs) return
  const log = useLogger()
  let running = false
  const tick = async () => {
    if (running || useRedis().status !== 'ready') return
    running = true
    try {
      await pollDueAccounts()
    }
    catch (err) {
      log.warn({ reason: (err as Error).message }, 'usage poller pass failed')
    }
    finally {
      running = false
    }
  }
  const timer = setInterval(() => void tick(), Math.min(intervalMs, 60_000))
  timer.unref()
  nitroApp.hooks.hook('close', () => clearInterval(timer))
})
