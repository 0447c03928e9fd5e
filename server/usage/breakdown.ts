import { claudeAccounts, geminiAccounts } from '../accounts'
import { useRedis } from '../store/redis'
import { rk } from '../store/keys'
import { dim } from './buckets'
import { breakdown, bucketRange, coveringBuckets, type Granularity } from './stats'

/** Per key, account or model over a range, with names joined in for keys and accounts. */
export async function usageBreakdown(by: 'key' | 'account' | 'model', granularity: Granularity, from: Date, to: Date) {
  const redis = useRedis()
  // Hours when asked for (a short range), else the fewest day/month buckets covering the range.
  const buckets = granularity === 'hour'
    ? bucketRange('hour', from, to).map(h => rk.usageBucket('hour', h))
    : coveringBuckets(from, to)
  if (by === 'model') return breakdown(redis, buckets, await redis.smembers(rk.usageModels()), dim.model)
  if (by === 'account') {
    const accounts = (await Promise.all([claudeAccounts.list(), geminiAccounts.list()])).flat()
    const byId = new Map(accounts.map(a => [a.id, a]))
    const rows = await breakdown(redis, buckets, accounts.map(a => a.id), dim.account)
    return rows.map(r => ({ ...r, name: byId.get(r.id)?.name ?? null, platform: byId.get(r.id)?.platform ?? null }))
  }
  const [ids, search] = await Promise.all([redis.zrange(rk.apiKeyIndex(), 0, -1), redis.hgetall(rk.apiKeySearch())])
  const rows = await breakdown(redis, buckets, ids, dim.key)
  return rows.map(r => ({ ...r, name: search[r.id]?.split('\t')[0] ?? null }))
}
