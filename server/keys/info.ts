import type Redis from 'ioredis'
import { readKeyUsage } from '../usage/record'
import { getApiKey, type ApiKeyRecord } from './records'

/** What a key holder may see about their own key: status, expiry, usage total and today. */
export async function keyInfo(redis: Redis, cached: ApiKeyRecord) {
  // The hot path's cached record lags on lastUsedAt; this view reads the stored one.
  const [key, { total, daily }] = await Promise.all([getApiKey(redis, cached.id), readKeyUsage(redis, cached.id, 1)])
  const k = key ?? cached
  return {
    id: k.id,
    name: k.name,
    isActive: k.isActive,
    expiresAt: k.expiresAt,
    createdAt: k.createdAt,
    lastUsedAt: k.lastUsedAt,
    usage: { total, today: daily[0] },
  }
}
