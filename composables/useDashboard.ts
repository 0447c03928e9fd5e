import type { PoolHeadroom } from '~~/server/accounts/pool-headroom'
import type { Counters } from '~~/server/usage/buckets'
import type { CacheRow } from '~~/server/usage/cache-stats'
import type { LostEntry } from '~~/server/usage/lost'
import type { Granularity } from '~/utils/format'

/** Counters of one bucket or total, as the usage endpoints return them (cost in USD, costMicros exact). */
export type UsageCounters = Counters & { cost: number }

export type AccountState = 'active' | 'rate_limited' | 'overloaded' | 'cooldown' | 'error' | 'blocked' | 'disabled'

/** GET /api/admin/dashboard */
export interface DashboardSummary {
  usage: {
    today: UsageCounters & { tokens: number }
    total: UsageCounters & { tokens: number }
    keysUsedToday: number
    accountsUsedToday: number
    rpm: number
    tpm: number
  }
  keys: { total: number }
  /** Requests admitted by an instance that died before recording them: how many, and the newest few. */
  lost: { total: number, entries: (LostEntry & { keyName?: string })[] }
  /** The subscriptions' remaining 5-hour windows (issue 17 §6). */
  poolHeadroom: PoolHeadroom
  accounts: { total: number, active: number, byState: Record<AccountState, number>, byPlatform: { claude: number, gemini: number } }
}

export interface TrendPoint extends UsageCounters { bucket: string }
export interface BreakdownRow extends UsageCounters { id: string, name?: string | null, platform?: string | null }

/** One bucket of the prompt-cache ledger (GET /api/admin/usage/cache-trend). */
export type CacheTrendPoint = CacheRow & { bucket: string }

export type Metric = 'requests' | 'tokens' | 'cost'

/** Range presets in hours; hourly data covers at most 7 days on the server. */
export const RANGES = { '24h': 24, '7d': 168, '30d': 720, '90d': 2160 } as const
export type RangeKey = keyof typeof RANGES
export const HOURLY_MAX_HOURS = 168

const AUTO_REFRESH_KEY = 'crs-dashboard-auto-refresh'
export const AUTO_REFRESH_MS = 10_000

/** The dashboard's data (summary, trend, three breakdowns) for the chosen range, with auto-refresh. */
export function useDashboard() {
  const api = useApi()
  const toasts = useToastStore()
  const granularity = ref<Granularity>('hour')
  const range = ref<RangeKey>('24h')
  const metric = ref<Metric>('requests')
  const summary = ref<DashboardSummary | null>(null)
  const trend = ref<TrendPoint[]>([])
  const byModel = ref<BreakdownRow[]>([])
  const byKey = ref<BreakdownRow[]>([])
  const byAccount = ref<BreakdownRow[]>([])
  const cacheTrend = ref<CacheTrendPoint[]>([])
  const loading = ref(false)
  const updatedAt = ref<Date | null>(null)
  const autoRefresh = ref(false)

  // Hours beyond 7 days are not kept: a long range switches the chart to days.
  watch(range, (r) => {
    if (RANGES[r] > HOURLY_MAX_HOURS) granularity.value = 'day'
  })

  // A newer load (the range changed meanwhile) wins; an older answer arriving late is dropped.
  let seq = 0
  async function load(quiet = false) {
    const mine = ++seq
    loading.value = true
    const query = { granularity: granularity.value, ...rangeQuery(RANGES[range.value]) }
    // Six calls fail together when the server does: one toast, not five (401 still goes to the login page).
    const breakdown = (by: string) => api<{ items: BreakdownRow[] }>('/api/admin/usage/breakdown', { query: { ...query, by }, quiet: true }).then(r => r.items)
    try {
      const [s, t, m, k, a, c] = await Promise.all([
        api<DashboardSummary>('/api/admin/dashboard', { quiet: true }),
        api<{ series: TrendPoint[] }>('/api/admin/usage/trend', { query, quiet: true }).then(r => r.series),
        breakdown('model'), breakdown('key'), breakdown('account'),
        api<{ series: CacheTrendPoint[] }>('/api/admin/usage/cache-trend', { query, quiet: true }).then(r => r.series),
      ])
      if (mine !== seq) return
      summary.value = s
      trend.value = t
      byModel.value = m
      byKey.value = k
      byAccount.value = a
      cacheTrend.value = c
      updatedAt.value = new Date()
    }
    catch (err) {
      // Keep the last data; auto-refresh stays silent (the next tick retries).
      if (!quiet && mine === seq && (err as { status?: number }).status !== 401) toasts.show('error', errorMessage(err))
    }
    finally {
      if (mine === seq) loading.value = false
    }
  }

  watch([granularity, range], () => load())

  let timer: ReturnType<typeof setInterval> | undefined
  function schedule() {
    clearInterval(timer)
    timer = undefined
    // A hidden tab does not poll; the next tick after it shows again refreshes.
    if (autoRefresh.value) timer = setInterval(() => document.visibilityState === 'visible' && !loading.value && load(true), AUTO_REFRESH_MS)
  }
  watch(autoRefresh, (on) => {
    localStorage.setItem(AUTO_REFRESH_KEY, on ? '1' : '0')
    schedule()
  })

  onMounted(() => {
    autoRefresh.value = localStorage.getItem(AUTO_REFRESH_KEY) === '1'
    load()
  })
  onBeforeUnmount(() => clearInterval(timer))

  return { granularity, range, metric, summary, trend, byModel, byKey, byAccount, cacheTrend, loading, updatedAt, autoRefresh, load }
}

/** A breakdown row's value for a metric (cost in USD). */
export function metricValue(row: UsageCounters, metric: Metric): number {
  if (metric === 'requests') return row.requests
  if (metric === 'cost') return row.costMicros / 1e6
  return allTokens(row)
}
