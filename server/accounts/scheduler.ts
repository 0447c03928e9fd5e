import { type AccountStateRecord, isAvailable } from './state'

/** The fields the scheduler needs from any platform's account. */
export interface Schedulable {
  id: string
  priority: number
  isActive: boolean
  /** A dedicated account serves only the keys bound to it, never the pool. */
  accountType?: 'shared' | 'dedicated'
  state?: AccountStateRecord
}

/** How an account's headroom steers the pick (window-aware scheduling; absent: priority, then least recently used). */
export interface PickOptions<T> {
  /** How fast each account may be drawn on (higher first); accounts within 10% of the best count as equal. */
  pace?: (a: T) => number
  /** Accounts near a subscription limit: they leave the pool unless nothing else can serve. */
  nearLimit?: (a: T) => boolean
}

/** Paces this close to the best are equal: least recently used decides among them, so load still spreads. */
const PACE_TIE = 0.9

/**
 * Pick from the pool: active shared accounts not in a running state (rate limited, overloaded, …)
 * and not in `exclude` (already tried for this request), lowest `priority` first; with `opts`,
 * accounts near a limit only when no other can serve, and the best pace among equals; then least
 * recently used (by this process's `lastUsed` clock; ties broken by id so the choice is deterministic).
 * Marks the chosen account used at `now`. Returns null when no account can serve.
 */
export function pickAccount<T extends Schedulable>(accounts: readonly T[], lastUsed: Map<string, number>, now = Date.now(), exclude?: ReadonlySet<string>, opts: PickOptions<T> = {}): T | null {
  const eligible = accounts.filter(a => a.isActive && a.accountType !== 'dedicated' && isAvailable(a.state, now) && !exclude?.has(a.id))
  if (eligible.length === 0) return null
  const roomy = opts.nearLimit ? eligible.filter(a => !opts.nearLimit!(a)) : eligible
  const pool = roomy.length ? roomy : eligible
  const top = Math.min(...pool.map(a => a.priority))
  let tier = pool.filter(a => a.priority === top)
  if (opts.pace && tier.length > 1) {
    const paces = tier.map(a => opts.pace!(a))
    const floor = Math.max(...paces) * PACE_TIE
    tier = tier.filter((_, i) => paces[i]! >= floor)
  }
  let best = tier[0]!
  let bestUsed = lastUsed.get(best.id) ?? 0
  for (const a of tier) {
    const used = lastUsed.get(a.id) ?? 0
    if (used < bestUsed || (used === bestUsed && a.id < best.id)) {
      best = a
      bestUsed = used
    }
  }
  // Stamps strictly increase, so picks within one millisecond still rotate.
  const newest = Math.max(0, ...eligible.map(a => lastUsed.get(a.id) ?? 0))
  lastUsed.set(best.id, Math.max(now, newest + 1))
  return best
}

/**
 * An in-process copy of a platform's accounts, loaded on first use and reloaded after
 * invalidate() (called locally on change and from Redis pub/sub for other instances), so
 * picking an account costs no Redis round trip. `maxAgeMs` bounds staleness if an
 * invalidation message is lost.
 */
export class AccountRoster<T extends Schedulable> {
  private accounts: T[] | null = null
  private loading: Promise<T[]> | null = null
  private loadedAt = 0
  private generation = 0
  readonly lastUsed = new Map<string, number>()

  constructor(private readonly load: () => Promise<T[]>, private readonly maxAgeMs = 30_000) {}

  /** The current accounts (cached). */
  async all(now = Date.now()): Promise<T[]> {
    if (this.accounts && now - this.loadedAt < this.maxAgeMs) return this.accounts
    if (!this.loading) {
      const gen = this.generation
      this.loading = this.load().then((list) => {
        // An invalidation that raced this load wins: keep the list but force a reload next time.
        this.accounts = list
        this.loadedAt = gen === this.generation ? now : 0
        return list
      }).finally(() => { this.loading = null })
    }
    return this.loading
  }

  /** Choose an account for a request, skipping `exclude`. */
  async pick(exclude?: ReadonlySet<string>, now = Date.now(), opts?: PickOptions<T>): Promise<T | null> {
    return pickAccount(await this.all(now), this.lastUsed, now, exclude, opts)
  }

  invalidate(): void {
    this.generation++
    this.loadedAt = 0
  }
}
