import type Redis from 'ioredis'

/** Escape glob characters so a key prefix matches only itself in SCAN MATCH. */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, c => `\\${c}`)

/**
 * Every key name matching `pattern` under the client's prefix, returned without the prefix.
 * SCAN never blocks Redis; ioredis does not prefix SCAN's pattern, so it is added here.
 */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const prefix = redis.options.keyPrefix ?? ''
  const out = new Set<string>()
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}${pattern}`, 'COUNT', 1000)
    cursor = next
    for (const k of keys) out.add(k.slice(prefix.length))
  } while (cursor !== '0')
  return [...out].sort()
}
