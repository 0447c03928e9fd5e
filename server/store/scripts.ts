import type Redis from 'ioredis'
import type { Result } from 'ioredis'

// Lua scripts, registered on every client (ioredis sends EVALSHA, falling back to EVAL once).
const SCRIPTS: Record<string, { numberOfKeys?: number, lua: string }> = {
  // One request's usage in one command. KEYS: total, daily bucket, api key record, account record.
  // ARGV: model, daily TTL, last-used ISO time, aborted (0/1), then counter/value pairs.
  // Last-used stamps are set only on records that still exist, so a key or account deleted
  // while its request was in flight is not recreated as an orphan holding a timestamp.
  recordUsage: {
    numberOfKeys: 4,
    lua: `local pm = 'm:' .. ARGV[1] .. ':'
for i = 5, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  redis.call('HINCRBY', KEYS[1], f, v)
  redis.call('HINCRBY', KEYS[2], f, v)
  redis.call('HINCRBY', KEYS[2], pm .. f, v)
end
if ARGV[4] == '1' then
  redis.call('HINCRBY', KEYS[1], 'aborted', 1)
  redis.call('HINCRBY', KEYS[2], 'aborted', 1)
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
for i = 3, 4 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('HSET', KEYS[i], 'lastUsedAt', ARGV[3]) end
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
    recordUsage(total: string, daily: string, apiKey: string, account: string, ...args: (string | number)[]): Result<number, Context>
    loginAttempt(ipKey: string, userKey: string, max: number, windowSeconds: number): Result<number, Context>
  }
}

/** Register the project's Lua scripts on a client. */
export function defineScripts(redis: Redis): Redis {
  for (const [name, def] of Object.entries(SCRIPTS)) redis.defineCommand(name, { lua: def.lua, numberOfKeys: def.numberOfKeys })
  return redis
}
