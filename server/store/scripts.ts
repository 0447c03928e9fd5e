import type Redis from 'ioredis'
import type { Result } from 'ioredis'

// Lua scripts, registered on every client (ioredis sends EVALSHA, falling back to EVAL once).
const SCRIPTS: Record<string, { numberOfKeys?: number, lua: string }> = {
  // Stamp `field` = ARGV[1] on each hash in KEYS that still exists, so a record deleted while
  // its request was in flight is not recreated as an orphan holding only a timestamp.
  touchExisting: {
    numberOfKeys: undefined,
    lua: `for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, ARGV[1], ARGV[2]) end
end
return 0`,
  },
  // Count one login attempt against every key in KEYS (IP, username) atomically, BEFORE the
  // password is checked, so parallel guesses cannot slip past the limit. ARGV: max, window s.
  // Returns 0 when allowed, else the seconds until the longest block ends (nothing counted).
  loginAttempt: {
    numberOfKeys: 2,
    lua: `local wait = 0
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[1]) then
    wait = math.max(wait, redis.call('TTL', key), 1)
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[2], 'NX')
end
return 0`,
  },
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** touchExisting(numKeys, ...keys, field, value) */
    touchExisting(numKeys: number, ...args: string[]): Result<number, Context>
    loginAttempt(ipKey: string, userKey: string, max: number, windowSeconds: number): Result<number, Context>
  }
}

/** Register the project's Lua scripts on a client. */
export function defineScripts(redis: Redis): Redis {
  for (const [name, def] of Object.entries(SCRIPTS)) redis.defineCommand(name, { lua: def.lua, numberOfKeys: def.numberOfKeys })
  return redis
}
