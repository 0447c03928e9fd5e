import type { CacheRow } from '~~/server/usage/cache-stats'
import { todayUtcRange } from '~/utils/accounts'

// The accounts page reloads every 30 s; every row's cell shares one request per such period.
const REFRESH_MS = 30_000
let loadedAt = 0
let inflight: Promise<void> | null = null

/**
 * Today's (UTC) prompt-cache ledger per account id, shared by every row of the accounts table:
 * the first cell to mount loads it, the others reuse the answer.
 */
export function useAccountsCache() {
  const api = useApi()
  const rows = useState<Record<string, CacheRow>>('accounts-cache-ledger', () => ({}))
  function refresh() {
    if (inflight || Date.now() - loadedAt < REFRESH_MS) return
    inflight = api<{ items: CacheRow[] }>('/api/admin/usage/cache', { query: { by: 'account', ...todayUtcRange() }, quiet: true })
      .then((r) => {
        rows.value = Object.fromEntries(r.items.map(i => [i.id, i]))
        loadedAt = Date.now()
      })
      // The cell then shows nothing; the page's own usage figures report a failing server.
      .catch(() => {})
      .finally(() => (inflight = null))
  }
  onMounted(refresh)
  return rows
}
