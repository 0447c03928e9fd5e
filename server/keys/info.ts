import type Redis from 'ioredis'
import { readKeyUsage } from '../usage/record'
import type { ApiKeyRecord } from './records'

/** What a key holder may see about their own key: status, expiry, usage total and today. */
export async function keyInfo(redis: Redis, key: ApiKeyRecord) {
  const { total, daily } = await readKeyUsage(redis, key.id, 1)
  return {
    id: key.id,
    name: key.name,
    isActive: key.isActive,
    expiresAt: key.expiresAt,
    createdAt: key.createdAt,
    lastUsedAt: key.lastUsedAt,
    usage: { total, today: daily[0] },
  }
}
