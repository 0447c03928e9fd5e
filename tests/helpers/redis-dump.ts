import type Redis from 'ioredis'

/**
 * Every key under `prefix` (full name) with all of its contents as one text: the value of a
 * string; field names and values of a hash; members of a set, sorted set or list. Lets a test
 * assert that a secret appears nowhere in Redis, whatever key kind a later change stores it in.
 * `redis` is a client with `keyPrefix: prefix` (like TestServer.redis).
 */
export async function dumpPrefix(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  let cursor = '0'
  do {
    // ioredis does not apply keyPrefix to SCAN's pattern, and returns full key names.
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    for (const full of keys) {
      const key = full.slice(prefix.length)
      const type = await redis.type(key)
      let parts: string[]
      if (type === 'string') parts = [await redis.get(key) ?? '']
      else if (type === 'hash') parts = Object.entries(await redis.hgetall(key)).flat()
      else if (type === 'set') parts = await redis.smembers(key)
      else if (type === 'zset') parts = await redis.zrange(key, 0, -1)
      else if (type === 'list') parts = await redis.lrange(key, 0, -1)
      else if (type === 'none') continue // expired or deleted between SCAN and TYPE
      else parts = [`<${type}>`]
      out.set(full, [full, ...parts].join('\n'))
    }
  } while (cursor !== '0')
  return out
}

/** The keys (full names) whose name or contents include `needle`. */
export async function keysContaining(redis: Redis, prefix: string, needle: string): Promise<string[]> {
  const dump = await dumpPrefix(redis, prefix)
  return [...dump].filter(([, text]) => text.includes(needle)).map(([key]) => key)
}
