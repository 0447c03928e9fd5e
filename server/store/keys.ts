/**
 * Every Redis key name, one builder per kind (ioredis adds REDIS_KEY_PREFIX). The layout is
 * documented in docs/redis-layout.md; change both together.
 */
export const rk = {
  apiKey: (id: string) => `api_key:${id}`,
  apiKeyHash: (hash: string) => `api_key_hash:${hash}`,
  apiKeyIndex: () => 'api_key_index',
  /**
   * Keys imported from claude-relay-service (server/keys/legacy.ts): its ENCRYPTION_KEY, encrypted
   * with ours, and the CRS hashes (sha256(key + that secret)) → key id of keys not yet used here.
   */
  legacySecret: () => 'legacy:crs_secret',
  legacyKeyHashes: () => 'legacy:key_hashes',
  /** `claude_account:{id}` / `gemini_account:{id}`. */
  account: (platform: string, id: string) => `${platform}_account:${id}`,
  accountIndex: (platform: string) => `${platform}_account_index`,
  /** `{platform}:{accountId}` → JSON state (rate_limited, overloaded, blocked, error, cooldown). */
  accountStates: () => 'account_state',
  /** `{platform}:{accountId}` → JSON of the 5-hour session window Anthropic last reported. */
  accountWindows: () => 'account_window',
  /** `{platform}:{accountId}` → JSON of the subscription headroom last seen (server/accounts/headroom.ts). */
  accountHeadroom: () => 'account_headroom',
  /** `{platform}:{accountId}` → JSON of the usage endpoint's poll schedule (next poll, last outcome). */
  usagePoll: () => 'usage_poll',
  /** Usage-poll lock of one account (value: the holder's random token); 15 s at most. */
  usagePollLock: (accountId: string) => `usage_poll_lock:${accountId}`,
  /** Sticky session: the account a key's conversation is bound to. */
  sticky: (keyId: string, hash: string) => `sticky:${keyId}:${hash}`,
  admin: (id: string) => `admin:${id}`,
  adminUsername: (name: string) => `admin_username:${name}`,
  session: (jti: string) => `session:${jti}`,
  /** An admin's live sessions: jti scored by expiry (ms). */
  adminSessions: (adminId: string) => `admin_sessions:${adminId}`,
  /** Login throttle buckets: `ip:{address}` and `ip_user:{address}:{username}` (IPv6 by /64). */
  loginFailures: (kind: 'ip' | 'ip_user', who: string) => `login_fail:${kind}:${who}`,
  apiKeySearch: () => 'api_key_search',
  /** Limit state of a key: the current rate window and its concurrency leases. */
  rateWindow: (keyId: string) => `rate:${keyId}`,
  leases: (keyId: string) => `lease:${keyId}`,
  weeklyCost: (week: string, keyId: string) => `cost:week:${week}:${keyId}`,
  /** Usage buckets (see server/usage/buckets.ts): hour/day/month ids in UTC, and all-time. */
  usageBucket: (kind: 'hour' | 'day' | 'month', id: string) => `usage:${kind}:${id}`,
  usageTotal: () => 'usage:total',
  /**
   * What the CRS import added to one usage bucket (same fields as the bucket, same lifetime), so a
   * rerun replaces its share instead of adding it again. `bucket` is the bucket's own key name.
   */
  crsImported: (bucket: string) => `crs_import:${bucket}`,
  /** A key's prompt-cache ledger per sticky session and model (server/usage/sessions.ts). */
  usageSessions: (keyId: string) => `usage:sessions:${keyId}`,
  usageRecent: (keyId: string) => `usage:recent:${keyId}`,
  usageKeyModels: (keyId: string) => `usage:key_models:${keyId}`,
  usageModels: () => 'usage:models',
  /** Last-used stamps of keys (`k:{id}`) and accounts (`a:{id}`). */
  lastUsed: () => 'last_used',
  /**
   * Requests lost to a crash (server/usage/lost.ts): a live instance's alive key (expires unless
   * renewed), the set of instances that may have requests in flight, each instance's in-flight
   * hash (request id → entry), and the lost store (request id → entry; ZSET by detection time).
   */
  instance: (instanceId: string) => `instance:${instanceId}`,
  instances: () => 'instances',
  inflight: (instanceId: string) => `inflight:${instanceId}`,
  usageLost: () => 'usage:lost',
  usageLostAt: () => 'usage:lost:at',
  systemInfo: () => 'system_info',
  /** Admin price overrides: field = model id, value = JSON of LiteLLM price fields. */
  pricingOverride: () => 'pricing_override',
  /** A pending OAuth authorization (PKCE verifier, state, proxy, provider), encrypted; 10 minutes. */
  oauthSession: (sessionId: string) => `oauth_session:${sessionId}`,
  /** Token-refresh lock of one account (value: the holder's random token); 30 s at most. */
  oauthLock: (accountId: string) => `oauth_lock:${accountId}`,
} as const

/** Pub/sub channels (prefixed like keys). */
export const channels = {
  invalidate: 'events:invalidate',
} as const

type Platform = 'claude' | 'gemini'

/**
 * The messages on `channels.invalidate`: what changed, so every instance drops its cached copy.
 * Servers, the CLI and the data tools build them here and nowhere else.
 */
export const invalidation = {
  /** An API key's record (the key cache). */
  apiKey: (id: string) => `api_key:${id}`,
  /** An account's record: the scheduler's copy reloads and its connection pool is rebuilt. */
  account: (platform: Platform, id: string) => `${platform}_account:${id}`,
  /** An account's state, token or project: the scheduler's copy reloads; warm connections stay. */
  accountState: (platform: Platform, id: string) => `${platform}_account_state:${id}`,
  /** The admin price overrides. */
  pricing: () => 'pricing',
  /** The stored CRS secret (`legacySecret`): the key lookup reads it again. */
  legacySecret: () => 'legacy_secret',
} as const

export type Invalidation
  = | { kind: 'apiKey', id: string }
    | { kind: 'account' | 'accountState', platform: Platform, id: string }
    | { kind: 'pricing' }
    | { kind: 'legacySecret' }

/** What a message on `channels.invalidate` says; null for one this version does not know. */
export function parseInvalidation(msg: string): Invalidation | null {
  if (msg === 'pricing') return { kind: 'pricing' }
  if (msg === 'legacy_secret') return { kind: 'legacySecret' }
  if (msg.startsWith('api_key:')) return { kind: 'apiKey', id: msg.slice(8) }
  const m = /^(claude|gemini)_account(_state)?:(.+)$/.exec(msg)
  return m ? { kind: m[2] ? 'accountState' : 'account', platform: m[1] as Platform, id: m[3]! } : null
}
