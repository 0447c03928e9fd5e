import type { ApiKeySettings, Permission } from '~~/server/keys/records'
import type { UsageCounters } from '~/composables/useDashboard'

type ModelCounters = Record<string, UsageCounters>

/** GET /api/v1/key-info (what a key holder may see about their own key). */
export interface KeyInfo {
  id: string
  name: string
  isActive: boolean
  createdAt: string
  lastUsedAt: string | null
  expiresAt: string | null
  activation: { days: number, activatedAt: string | null } | null
  permissions: Permission
  allowedModels: string[]
  blockedModels: string[]
  allowedClients: string[]
  limits: Pick<ApiKeySettings, 'rateLimitWindow' | 'rateLimitRequests' | 'rateLimitTokens' | 'rateLimitCost' | 'concurrencyLimit' | 'dailyCostLimit' | 'weeklyCostLimit' | 'totalCostLimit' | 'tokenLimit'>
  state: {
    window: { startedAt: string, resetsAt: string, requests: number, tokens: number, cost: number } | null
    concurrency: { inUse: number, limit: number }
    weeklyCost: number
  }
  usage: { total: UsageCounters & { models: ModelCounters }, today: UsageCounters & { date: string, models: ModelCounters } }
}

/** GET /api/v1/usage?days=N: daily buckets newest first. */
export interface KeyUsage {
  keyId: string
  total: UsageCounters & { models: ModelCounters }
  daily: (UsageCounters & { date: string, models: ModelCounters })[]
}

export const USAGE_DAYS = 7

/**
 * A key holder's own view. The key lives in this composable's ref only — never in the URL,
 * storage or a cookie — and is sent as `x-api-key` on each call.
 */
export function useKeyStats() {
  const key = ref('')
  const info = ref<KeyInfo | null>(null)
  const usage = ref<KeyUsage | null>(null)
  const error = ref('')
  const loading = ref(false)

  async function check() {
    const k = key.value.trim()
    error.value = ''
    if (!k) return
    loading.value = true
    try {
      const headers = { 'x-api-key': k }
      const [i, u] = await Promise.all([
        $fetch<KeyInfo>('/api/v1/key-info', { headers }),
        $fetch<KeyUsage>('/api/v1/usage', { headers, query: { days: USAGE_DAYS } }),
      ])
      info.value = i
      usage.value = u
    }
    catch (err) {
      info.value = null
      usage.value = null
      // Anthropic-shaped errors: {type:'error', error:{message}}.
      error.value = errorMessage(err)
    }
    finally {
      loading.value = false
    }
  }

  function clear() {
    key.value = ''
    info.value = null
    usage.value = null
    error.value = ''
  }

  return { key, info, usage, error, loading, check, clear }
}
