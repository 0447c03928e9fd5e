import { useConfig } from '../config'
import { publish, subscribe, useRedis } from '../store/redis'
import { channels, invalidation, parseInvalidation, rk } from '../store/keys'
import { useLogger } from '../logging'
import { ApiKeyCache } from './cache'
import { LegacyKeys } from './legacy'
import * as records from './records'

export type { ApiKeyRecord, ApiKeyView, ApiKeyInput, ListQuery } from './records'

let cache: ApiKeyCache | undefined

function useCache(): ApiKeyCache {
  if (!cache) {
    const { relay, secrets } = useConfig()
    const legacy = new LegacyKeys(secrets.encryptionKey, () => useLogger().warn(
      `${rk.legacySecret()} does not decrypt with ENCRYPTION_KEY: keys imported from claude-relay-service cannot authenticate until it is imported again`))
    cache = new ApiKeyCache(relay.apiKeyCacheMs, undefined, (redis, apiKey, hash) => legacy.find(redis, apiKey, hash))
    // Other instances announce changes here; our own changes invalidate synchronously as well.
    subscribe(channels.invalidate, (msg) => {
      const m = parseInvalidation(msg)
      if (m?.kind === 'apiKey') cache!.invalidate(m.id)
      else if (m?.kind === 'legacySecret') legacy.forget()
    })
  }
  return cache
}

async function changed(id: string): Promise<void> {
  useCache().invalidate(id)
  await publish(channels.invalidate, invalidation.apiKey(id))
}

/** Why a key cannot be used, or null when it can (activation expiry is checked at admission). */
export function keyRejection(r: records.ApiKeyRecord | null, now = Date.now()): string | null {
  if (!r) return 'Invalid API key'
  if (!r.isActive) return 'API key is disabled'
  if (r.expiresAt && Date.parse(r.expiresAt) <= now) return 'API key has expired'
  if (r.activatedAt && r.activationDays && Date.parse(r.activatedAt) + r.activationDays * 86_400_000 <= now) return 'API key has expired'
  return null
}

/** API keys: admin CRUD plus the hot-path lookup. Every change reaches every instance's cache. */
export const apiKeys = {
  async create(input: records.ApiKeyInput) {
    const { secrets } = useConfig()
    return records.createApiKey(useRedis(), secrets.apiKeySalt, input)
  },
  get: (id: string) => records.getApiKey(useRedis(), id),
  list: (query: records.ListQuery) => records.listApiKeys(useRedis(), query),
  async update(id: string, patch: Partial<records.ApiKeySettings>) {
    const next = await records.updateApiKey(useRedis(), id, patch)
    if (next) await changed(id)
    return next
  },
  async remove(id: string) {
    const gone = await records.deleteApiKey(useRedis(), id)
    if (gone) await changed(id)
    return gone !== null
  },
  /** Resolve a client's plaintext key (cached; usually no Redis round trip). */
  lookup(apiKey: string) {
    return useCache().lookup(useRedis(), useConfig().secrets.apiKeySalt, apiKey)
  },
  toView: records.toView,
}
