/**
 * Every Redis key name, one builder per kind (ioredis adds REDIS_KEY_PREFIX). The layout is
 * documented in docs/redis-layout.md; change both together.
 */
export const rk = {
  apiKey: (id: string) => `api_key:${id}`,
  apiKeyHash: (hash: string) => `api_key_hash:${hash}`,
  apiKeyIndex: () => 'api_key_index',
  claudeAccount: (id: string) => `claude_account:${id}`,
  claudeAccountIndex: () => 'claude_account_index',
  admin: (id: string) => `admin:${id}`,
  adminUsername: (name: string) => `admin_username:${name}`,
  session: (jti: string) => `session:${jti}`,
  loginFailures: (kind: 'ip' | 'user', who: string) => `login_fail:${kind}:${who}`,
  usageTotal: (keyId: string) => `usage:total:${keyId}`,
  usageDaily: (date: string, keyId: string) => `usage:daily:${date}:${keyId}`,
  systemInfo: () => 'system_info',
} as const

/** Pub/sub channels (prefixed like keys). */
export const channels = {
  invalidate: 'events:invalidate',
} as const
