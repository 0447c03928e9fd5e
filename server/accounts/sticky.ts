import type Redis from 'ioredis'
import { rk } from '../store/keys'

/** A conversation's identity for routing: the calling key and a hash of its session. */
export interface SessionRef { keyId: string, hash: string }

interface Entry { accountId: string, at: number }

const MAX_LOCAL = 20_000
// A binding's Redis TTL is pushed forward at most this often (not on every request).
const TOUCH_EVERY_MS = 10 * 60_000

/**
 * Sticky sessions: a conversation keeps its account, so Claude's prompt cache stays warm. Bindings
 * are scoped by API key (one key's sessions never steer another key's traffic), kept in Redis
 * (`sticky:{keyId}:{hash}`, TTL) for every instance, and mirrored in-process so a repeat request
 * costs no round trip.
 */
export class StickySessions {
  private local = new Map<string, Entry>()

  constructor(private readonly redis: () => Redis, private readonly ttlMs: number) {}

  private id = (s: SessionRef) => `${s.keyId}:${s.hash}`

  /** The account the session is bound to, if any (Redis is asked once per instance and session). */
  async get(s: SessionRef, now = Date.now()): Promise<string | null> {
    const hit = this.local.get(this.id(s))
    if (hit && now - hit.at < this.ttlMs) {
      if (now - hit.at > TOUCH_EVERY_MS) this.write(s, hit.accountId, now)
      return hit.accountId
    }
    // Redis away: route by the pool (the binding is a cache-warmth hint, not a rule).
    const stored = await this.redis().get(rk.sticky(s.keyId, s.hash)).catch(() => null)
    if (stored) this.remember(s, stored, now)
    return stored
  }

  /** Bind (or move) the session to an account. */
  bind(s: SessionRef, accountId: string, now = Date.now()): void {
    if (this.local.get(this.id(s))?.accountId === accountId) return
    this.write(s, accountId, now)
  }

  private write(s: SessionRef, accountId: string, now: number): void {
    this.remember(s, accountId, now)
    void this.redis().set(rk.sticky(s.keyId, s.hash), accountId, 'PX', this.ttlMs).catch(() => {})
  }

  private remember(s: SessionRef, accountId: string, now: number): void {
    if (this.local.size >= MAX_LOCAL) this.local.delete(this.local.keys().next().value!)
    this.local.delete(this.id(s))
    this.local.set(this.id(s), { accountId, at: now })
  }

  /** Forget every binding to an account (deleted): local only; Redis entries just expire. */
  dropAccount(accountId: string): void {
    for (const [k, e] of this.local) if (e.accountId === accountId) this.local.delete(k)
  }
}
