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
  // A few passes over the (short) list instead of filtered copies: this runs for every request.
  const { pace, nearLimit } = opts
  const eligible = (a: T) => a.isActive && a.accountType !== 'dedicated' && isAvailable(a.state, now) && !exclude?.has(a.id)
  let newest = 0
  let roomy = false
  for (const a of accounts) {
    if (!eligible(a)) continue
    newest = Math.max(newest, lastUsed.get(a.id) ?? 0)
    if (!nearLimit?.(a)) roomy = true
  }
  // Accounts near a limit only when every eligible one is.
  const inPool = (a: T) => eligible(a) && (!roomy || !nearLimit?.(a))
  let top = Number.POSITIVE_INFINITY
  for (const a of accounts) if (a.priority < top && inPool(a)) top = a.priority
  if (top === Number.POSITIVE_INFINITY) return null
  let floor = Number.NEGATIVE_INFINITY
  if (pace) {
    for (const a of accounts) if (a.priority === top && inPool(a)) floor = Math.max(floor, pace(a) * PACE_TIE)
  }
  let best: T | null = null
  let bestUsed = 0
  for (const a of accounts) {
    if (a.priority !== top || !inPool(a) || (pace && pace(a) < floor)) continue
    const used = lastUsed.get(a.id) ?? 0
    if (!best || used < bestUsed || (used === bestUsed && a.id < best.id)) {
      best = a
      bestUsed = used
    }
  }
  // Stamps strictly increase, so picks within one millisecond still rotate.
  lastUsed.set(best!.id, Math.max(now, newest + 1))
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
