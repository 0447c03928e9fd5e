import type { ChainableCommander } from 'ioredis'
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
    // A key of another type answers WRONGTYPE: read as empty.
    hgetallMany: keys => inBatches(keys, (pipe, k) => pipe.hgetall(k), (err, v) => (err ? {} : v as Record<string, string>)),
    getMany: keys => inBatches(keys, (pipe, k) => pipe.get(k), (err, v) => (err ? null : v as string | null)),
  }

  /** One pipeline per BATCH keys: a large deployment is read without one huge reply in memory at once. */
  async function inBatches<T>(keys: string[], add: (pipe: ChainableCommander, key: string) => void, read: (err: Error | null, v: unknown) => T): Promise<T[]> {
    const out: T[] = []
    for (let i = 0; i < keys.length; i += BATCH) {
      const pipe = redis.pipeline()
      for (const k of keys.slice(i, i + BATCH)) add(pipe, k)
      for (const [err, v] of (await pipe.exec()) ?? []) out.push(read(err, v))
    }
    return out
  }
}

const BATCH = 1000
