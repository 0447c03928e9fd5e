import { type AccountView, accountsApiBase, nextStateEnd, type PoolEntry, todayUtcRange, type UsageRow } from '~/utils/accounts'

interface List<T> { items: T[], total: number }

const REFRESH_MS = 30_000

/**
 * The Accounts screen's data: both platforms' accounts with their connection pools and today's
 * usage. `now` ticks every second for countdowns; the data reloads every 30 s while the page is
 * visible, and when a state reaches its end (the account is back in the pool).
 */
export function useAccounts() {
  const api = useApi()
  const accounts = ref<AccountView[]>([])
  const pools = ref<Record<string, PoolEntry>>({})
  const usage = ref<Record<string, UsageRow>>({})
  const loaded = ref(false)
  const loading = ref(false)
  const failed = ref(false)
  const now = ref(Date.now())
  let loadedAt = 0
  let inFlight = 0
  // Each load and each local change takes a number; a load answers only if nothing came after it
  // (an older answer must not undo an action the admin just took).
  let seq = 0

  /** Load everything; a `background` refresh shows no spinner and no error toasts. */
  async function load(background = false) {
    const mine = ++seq
    inFlight++
    if (!background) loading.value = true
    loadedAt = Date.now()
    try {
      const [claude, gemini, poolState, breakdown] = await Promise.all([
        api<List<AccountView>>(accountsApiBase('claude'), { quiet: background }),
        api<List<AccountView>>(accountsApiBase('gemini'), { quiet: background }),
        // Secondary figures: the table still works without them.
        api<{ accounts: PoolEntry[] }>('/connection-pools', { quiet: true }).catch(() => null),
        api<{ items: UsageRow[] }>('/api/admin/usage/breakdown', { query: { by: 'account', granularity: 'day', ...todayUtcRange() }, quiet: true }).catch(() => null),
      ])
      if (mine !== seq) return
      accounts.value = [...claude.items, ...gemini.items].sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name))
      if (poolState) pools.value = Object.fromEntries(poolState.accounts.map(p => [p.accountId, p]))
      if (breakdown) usage.value = Object.fromEntries(breakdown.items.map(u => [u.id, u]))
      loaded.value = true
      failed.value = false
    }
    catch {
      if (mine === seq) failed.value = true // useApi showed the server's message (unless in the background)
    }
    finally {
      if (!background) loading.value = false
      inFlight--
    }
  }

  /** Put an account view the server returned (after an action) in place of the old one. */
  function replace(view: AccountView) {
    seq++
    const i = accounts.value.findIndex(a => a.id === view.id)
    if (i >= 0) accounts.value.splice(i, 1, view)
    else accounts.value.push(view)
  }

  function remove(id: string) {
    seq++
    accounts.value = accounts.value.filter(a => a.id !== id)
  }

  let timer: ReturnType<typeof setInterval> | undefined
  function tick() {
    now.value = Date.now()
    if (inFlight || document.visibilityState !== 'visible') return
    const end = nextStateEnd(accounts.value, loadedAt)
    if ((end !== null && now.value >= end + 500) || now.value - loadedAt >= REFRESH_MS) void load(true)
  }
  onMounted(() => {
    void load()
    timer = setInterval(tick, 1000)
  })
  onBeforeUnmount(() => clearInterval(timer))

  return { accounts, pools, usage, loaded, loading, failed, now, load, replace, remove }
}
