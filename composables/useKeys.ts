import type { KeyListPage, KeyView } from '~/utils/keys'

/** Page sizes of the keys list. */
export const KEY_PAGE_SIZES = [20, 50, 100] as const

const queryNum = (v: unknown, d: number) => (Number.isInteger(Number(v)) && Number(v) >= 0 ? Number(v) : d)

/**
 * The API-keys list: search (name or tag, debounced), paging — both kept in the URL so a reload
 * keeps them —, the page of keys, and the list actions (enable/disable, delete, take a saved key).
 * `now` ticks every second for expiry and window countdowns; `refresh` counts reloads (rows
 * reload their usage on it).
 */
export function useKeys() {
  const { t } = useI18n()
  const api = useApi()
  const toasts = useToastStore()
  const route = useRoute()
  const router = useRouter()

  const search = ref(String(route.query.q ?? ''))
  const q = ref(search.value.trim())
  const offset = ref(queryNum(route.query.offset, 0))
  const startLimit = queryNum(route.query.limit, 20)
  const limit = ref((KEY_PAGE_SIZES as readonly number[]).includes(startLimit) ? startLimit : 20)

  const items = ref<KeyView[]>([])
  const total = ref(0)
  const loading = ref(true)
  const refresh = ref(0)
  const now = ref(Date.now())

  // A load answers only if no later one started (typing fast must not show an older page).
  let seq = 0
  async function load() {
    const mine = ++seq
    loading.value = true
    try {
      const page = await api<KeyListPage>('/api/admin/api-keys', { query: { offset: offset.value, limit: limit.value, ...(q.value ? { q: q.value } : {}) } })
      if (mine !== seq) return
      // Deleting the last key of the last page: step back instead of showing an empty page.
      if (!page.items.length && page.total && offset.value > 0) {
        offset.value = Math.max(0, Math.floor((page.total - 1) / limit.value) * limit.value)
        return
      }
      items.value = page.items
      total.value = page.total
    }
    catch { /* useApi showed the error */ }
    finally {
      if (mine === seq) loading.value = false
    }
  }

  let debounce: ReturnType<typeof setTimeout> | undefined
  watch(search, (v) => {
    clearTimeout(debounce)
    debounce = setTimeout(() => {
      q.value = v.trim()
      offset.value = 0
    }, 300)
  })
  watch([q, offset, limit], () => {
    void router.replace({ query: { ...(q.value ? { q: q.value } : {}), ...(offset.value ? { offset: offset.value } : {}), ...(limit.value !== 20 ? { limit: limit.value } : {}) } })
    void load()
  })

  let ticker: ReturnType<typeof setInterval> | undefined
  onMounted(() => {
    void load()
    ticker = setInterval(() => now.value = Date.now(), 1000)
  })
  onBeforeUnmount(() => {
    clearInterval(ticker)
    clearTimeout(debounce)
  })

  /** Reload the page of keys and every row's usage. */
  function reload() {
    refresh.value++
    void load()
  }

  /** Take a key the form saved: a new one (created with its `apiKey`) shows on the first page, an edited one in place. */
  function saved(k: KeyView & { apiKey?: string }) {
    if (k.apiKey) {
      if (offset.value) offset.value = 0
      else void load()
      return
    }
    items.value = items.value.map(i => (i.id === k.id ? k : i))
  }

  async function toggle(k: KeyView) {
    try {
      const next = await api<KeyView>(`/api/admin/api-keys/${k.id}`, { method: 'PUT', body: { isActive: !k.isActive } })
      items.value = items.value.map(i => (i.id === k.id ? next : i))
      toasts.show('success', t(next.isActive ? 'keys.toast.enabled' : 'keys.toast.disabled', { name: next.name }))
    }
    catch { /* useApi showed the error */ }
  }

  /** Delete a key; true when it is gone (the list reloads). */
  async function remove(k: KeyView): Promise<boolean> {
    try {
      await api(`/api/admin/api-keys/${k.id}`, { method: 'DELETE' })
      toasts.show('success', t('keys.toast.deleted', { name: k.name }))
      await load()
      return true
    }
    catch {
      return false // useApi showed the error
    }
  }

  return { search, q, offset, limit, items, total, loading, refresh, now, load, reload, saved, toggle, remove }
}
