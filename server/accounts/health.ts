/** One upstream attempt: did the account answer properly, and how long until its headers. */
interface Sample { ok: boolean, ttfbMs: number }

const WINDOW = 50
const MIN_SAMPLES = 8

export interface HealthStats { samples: number, errorRate: number, ttfbP50Ms: number | null }

const median = (xs: number[]) => {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/**
 * Per-account health over its last 50 attempts in this process: error rate and median time to
 * response headers. An account is degraded when it fails more than half the time, or when its
 * median TTFB is over 3× its peers' (and at least 250 ms worse): the scheduler then prefers its
 * peers and lets its sticky conversations move, until it recovers. Kept in memory only: no Redis
 * cost per request, and each instance judges what it sees.
 */
export class AccountHealth {
  private samples = new Map<string, Sample[]>()

  record(accountId: string, ok: boolean, ttfbMs: number): void {
    let s = this.samples.get(accountId)
    if (!s) this.samples.set(accountId, s = [])
    s.push({ ok, ttfbMs })
    if (s.length > WINDOW) s.shift()
  }

  stats(accountId: string): HealthStats {
    const s = this.samples.get(accountId) ?? []
    const ok = s.filter(x => x.ok)
    return {
      samples: s.length,
      errorRate: s.length ? (s.length - ok.length) / s.length : 0,
      ttfbP50Ms: median(ok.map(x => x.ttfbMs)),
    }
  }

  /** Degraded compared with `peers` (the other accounts that could serve instead). */
  degraded(accountId: string, peers: string[]): boolean {
    const me = this.stats(accountId)
    if (me.samples < MIN_SAMPLES) return false
    if (me.errorRate > 0.5) return true
    const peerP50 = median(peers.filter(p => p !== accountId).map(p => this.stats(p)).filter(p => p.samples >= MIN_SAMPLES && p.ttfbP50Ms !== null).map(p => p.ttfbP50Ms!))
    if (peerP50 === null || me.ttfbP50Ms === null) return false
    return me.ttfbP50Ms > 3 * peerP50 && me.ttfbP50Ms - peerP50 >= 250
  }

  forget(accountId: string): void {
    this.samples.delete(accountId)
  }
}
