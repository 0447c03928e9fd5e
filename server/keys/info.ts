import type Redis from 'ioredis'
import { readKeyUsage } from '../usage/record'
import { readLimitState } from './admission'
import { getApiKey, type ApiKeyRecord } from './records'

/** What a key holder may see about their own key: status, expiry, limits and their state, usage. */
export async function keyInfo(redis: Redis, cached: ApiKeyRecord) {
  // The hot path's cached record lags on lastUsedAt/activatedAt; this view reads the stored one.
  const k = (await getApiKey(redis, cached.id)) ?? cached
  const [usage, state] = await Promise.all([readKeyUsage(redis, k.id, 1), readLimitState(redis, k)])
  const activationExpiry = k.activationDays && k.activatedAt ? new Date(Date.parse(k.activatedAt) + k.activationDays * 86_400_000).toISOString() : null
  return {
    id: k.id,
    name: k.name,
    isActive: k.isActive,
    createdAt: k.createdAt,
    lastUsedAt: k.lastUsedAt,
    expiresAt: k.expiresAt ?? activationExpiry,
    activation: k.activationDays ? { days: k.activationDays, activatedAt: k.activatedAt } : null,
    permissions: k.permissions,
    allowedModels: k.allowedModels,
    blockedModels: k.blockedModels,
    allowedClients: k.allowedClients,
    limits: {
      rateLimitWindow: k.rateLimitWindow, rateLimitRequests: k.rateLimitRequests, rateLimitTokens: k.rateLimitTokens,
      rateLimitCost: k.rateLimitCost, concurrencyLimit: k.concurrencyLimit, dailyCostLimit: k.dailyCostLimit,
      weeklyCostLimit: k.weeklyCostLimit, totalCostLimit: k.totalCostLimit, tokenLimit: k.tokenLimit,
    },
    state,
    usage: { total: usage.total, today: usage.daily[0] },
  }
}
