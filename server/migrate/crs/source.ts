import type Redis from 'ioredis'

/**
 * The CRS Redis as this tool sees it: read commands only. The migration never writes to the
 * deployment it moves from; holding this instead of the client makes a write a type error.
 */
export interface CrsSource {
  /** Every key matching `pattern` (SCAN, so a large deployment is not blocked). */
  keys: (pattern: string) => Promise<string[]>
  hgetall: (key: string) => Promise<Record<string, string>>
  /** Many hashes in one round trip. */
  hgetallMany: (keys: string[]) => Promise<Record<string, string>[]>
  /** Many string values in one round trip (null where missing or not a string). */
  getMany: (keys: string[]) => Promise<(string | null)[]>
}

/** Most keys one pattern may list: a bound on memory, far above a real deployment's keys of one kind. */
export const MAX_KEYS_PER_PATTERN = 2_000_000

/** Wrap a client on the CRS Redis (no key prefix: CRS uses none) in the read-only view. */
export function crsSource(redis: Redis): CrsSource {
  return {
    async keys(pattern) {
      const found = new Set<string>()
      let cursor = '0'
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        for (const k of batch) found.add(k)
        if (found.size > MAX_KEYS_PER_PATTERN) throw new Error(`more than ${MAX_KEYS_PER_PATTERN} keys match ${pattern}`)
        cursor = next
      } while (cursor !== '0')
      return [...found].sort()
    },
    hgetall: key => redis.hgetall(key),
    async hgetallMany(keys) {
      if (keys.length === 0) return []
      const pipe = redis.pipeline()
      for (const k of keys) pipe.hgetall(k)
      // A key of another type answers WRONGTYPE: read as empty.
      return ((await pipe.exec()) ?? []).map(([err, v]) => (err ? {} : v as Record<string, string>))
    },
    async getMany(keys) {
      if (keys.length === 0) return []
      const pipe = redis.pipeline()
      for (const k of keys) pipe.get(k)
      return ((await pipe.exec()) ?? []).map(([err, v]) => (err ? null : v as string | null))
    },
  }
}
