import type { InternalApi } from 'nitropack'

/** GET /api/v1/key-info (what a key holder may see about their own key). */
export type KeyInfo = InternalApi['/api/v1/key-info']['default']

/** GET /api/v1/usage?days=N: daily buckets newest first. */
export type KeyUsage = InternalApi['/api/v1/usage']['default']

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
