import type Redis from 'ioredis'
import type { Result } from 'ioredis'

// Lua scripts, registered on every client (ioredis sends EVALSHA, falling back to EVAL once).
const SCRIPTS = {
  // Stamp `field` = ARGV[1] on each hash in KEYS that still exists, so a record deleted while
  // its request was in flight is not recreated as an orphan holding only a timestamp.
  touchExisting: {
    numberOfKeys: undefined,
    lua: `for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, ARGV[1], ARGV[2]) end
end
return 0`,
  },
} as const

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** touchExisting(numKeys, ...keys, field, value) */
    touchExisting(numKeys: number, ...args: string[]): Result<number, Context>
  }
}

/** Register the project's Lua scripts on a client. */
export function defineScripts(redis: Redis): Redis {
  for (const [name, def] of Object.entries(SCRIPTS)) redis.defineCommand(name, { lua: def.lua, numberOfKeys: def.numberOfKeys })
  return redis
}
