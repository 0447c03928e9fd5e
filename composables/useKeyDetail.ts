import type { Ref } from 'vue'
import { errorMessage } from '~/utils/api-errors'
import { type KeyAccountOption, keyExpiresAt, keyStatus, type KeyUsageDetail, type KeyView } from '~/utils/keys'

/**
 * One API key with its usage (by model, by day over `days`, the recent requests, the live limit
 * state) and the names of the accounts its requests went to. Reloads when the id or `days`
 * change; `now` ticks every second for the window countdown.
 */
export function useKeyDetail(id: Readonly<Ref<string>>) {
  const api = useApi()
  const item = ref<KeyView | null>(null)
  const usage = ref<KeyUsageDetail | null>(null)
  const notFound = ref('')
  const loading = ref(true)
  const days = ref(7)
  const now = ref(Date.now())
  const accounts = ref<Record<string, string>>({})

  async function load() {
    loading.value = true
    try {
      const [k, u] = await Promise.all([
        api<KeyView>(`/api/admin/api-keys/${id.value}`, { quiet: true }),
        api<KeyUsageDetail>(`/api/admin/api-keys/${id.value}/usage`, { query: { days: days.value, recent: 50 }, quiet: true }),
      ])
      item.value = k
      usage.value = u
      notFound.value = ''
    }
    catch (err) {
      notFound.value = errorMessage(err)
    }
    finally {
      loading.value = false
    }
  }

  // Names for the recent requests' account ids; without them the ids are shown.
  async function loadAccounts() {
    const get = (p: string) => api<{ items: KeyAccountOption[] }>(`/api/admin/${p}-accounts`, { quiet: true }).then(r => r.items).catch(() => [])
    const all = (await Promise.all([get('claude'), get('gemini')])).flat()
    accounts.value = Object.fromEntries(all.map(a => [a.id, a.name]))
  }

  watch([id, days], load)
  let ticker: ReturnType<typeof setInterval> | undefined
  onMounted(() => {
    void load()
    void loadAccounts()
    ticker = setInterval(() => now.value = Date.now(), 1000)
  })
  onBeforeUnmount(() => clearInterval(ticker))

  const status = computed(() => item.value && keyStatus(item.value, now.value))
  const expires = computed(() => item.value && keyExpiresAt(item.value))
  const total = computed(() => usage.value?.usage.total)

  return { item, usage, notFound, loading, days, now, accounts, status, expires, total, load }
}
