import { effectiveState } from '../accounts/state'
import { usePools } from '../accounts/pools'
import { safeEqual } from '../crypto'
import { registry, scrapeGauges } from '../metrics'
import { cacheByModelLabel } from '../usage/cache-stats'
import { usageBacklog } from '../usage/journal-store'
import { lostTotal } from '../usage/lost'

let gauges = false

// Prometheus text format. Scrapers authenticate with METRICS_TOKEN (Bearer) when it is set; an
// admin's bearer token or session works too.
export default defineEventHandler(async (event) => {
  const token = useConfig().metricsToken
  const bearer = getHeader(event, 'authorization')?.replace(/^bearer\s+/i, '') ?? ''
  if (!token || !bearer || !safeEqual(bearer, token)) await requireAdmin(event)
  if (!gauges) {
    gauges = true
    scrapeGauges({
      accounts: async () => [...await claudeAccounts.all(), ...await geminiAccounts.all()]
        .map(a => ({ platform: a.platform, state: a.isActive ? effectiveState(a.state).state : 'disabled' })),
      pools: () => {
        const s = usePools().summary()
        return { open: s.openConnections, busy: s.busyConnections, idle: s.openConnections - s.busyConnections, total: s.total, healthy: s.healthy, queued: s.queuedRequests, http2Streams: usePools().http2Streams() }
      },
      usageBacklog,
      lostRequests: () => lostTotal(useRedis()),
      cacheLedger: async () => cacheByModelLabel(useRedis(), await pricing.table()),
    })
  }
  setResponseHeader(event, 'content-type', registry.contentType)
  return registry.metrics()
})
