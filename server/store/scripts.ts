import type Redis from 'ioredis'
import type { Result } from 'ioredis'

// Lua scripts, registered on every client (ioredis sends EVALSHA, falling back to EVAL once).
const SCRIPTS: Record<string, { numberOfKeys?: number, lua: string }> = {
  // One request's usage (server/usage/buckets.ts explains the packed layout).
  // KEYS: 1-4 hour, day, month, total buckets; 5 rate window; 6 leases; 7 weekly cost;
  //       8 recent list; 9 last_used; 10 the key's model set; 11 all models set;
  //       12 the key's session ledger (server/usage/sessions.ts);
  //       13 the in-flight hash of the instance that admitted it; 14 lost store; 15 lost store by time.
  // ARGV: 1-5 fields (*, k:, km:, a:, m:); 6 packed delta ("0,…" = nothing to count);
  //       7-9 TTLs hour/day/month; 10 window start admitted in ('' = none); 11 lease id ('' = none);
  //       12 recent entry; 13 recent max; 14 now ISO; 15 key field; 16 account field; 17 model;
  //       18 weekly TTL; 19 on a retry, the request's id as it appears in its recent entry ('' on a
  //       first attempt: nothing extra is read); 20 the request id ('' = not tracked in flight);
  //       21 account×model field (am:); 22 the minute's field in the hour bucket (RPM/TPM);
  //       23 session ledger field ('' = no session); 24 now ms; 25 session ledger TTL ms;
  //       26 its TTL is pushed forward at most this often (ms); 27 most session entries per key.
  // The request leaves its instance's in-flight hash; when it was not there any more (its instance
  // looked dead and the reaper counted it lost), it lands after all: its lost entry goes (issue 13).
  // Returns 0, or 1 when the recent list shows the request was recorded already (nothing done).
  recordUsage: {
    numberOfKeys: 15,
    lua: `if ARGV[20] ~= '' and redis.call('HDEL', KEYS[13], ARGV[20]) == 0 and redis.call('HDEL', KEYS[14], ARGV[20]) == 1 then
  redis.call('ZREM', KEYS[15], ARGV[20])
end
if ARGV[19] ~= '' then
  for _, item in ipairs(redis.call('LRANGE', KEYS[8], 0, -1)) do
    if string.find(item, ARGV[19], 1, true) then return 1 end
  end
end
local delta = {}
for n in string.gmatch(ARGV[6], '[^,]+') do delta[#delta + 1] = tonumber(n) end
-- Lua strings are what this script spends its time on (a string.format per number cost ~290 µs a
-- request): a well-formed 8-counter value is matched once and written with one format call.
local d1, d2, d3, d4, d5, d6, d7, d8 = unpack(delta)
local EIGHT, PACK = '^(%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+),(%d+)$', '%d,%d,%d,%d,%d,%d,%d,%d'
local function add(packed)
  if #delta == 8 then
    if not packed then return string.format(PACK, d1, d2, d3, d4, d5, d6, d7, d8) end
    local a, b, c, d, e, f, g, h = string.match(packed, EIGHT)
    if a then return string.format(PACK, a + d1, b + d2, c + d3, d + d4, e + d5, f + d6, g + d7, h + d8) end
  end
  -- Anything else (fewer parts, signs, exponents): number by number.
  local out, i = {}, 1
  if packed then
    for n in string.gmatch(packed, '[^,]+') do
      out[i] = string.format('%.0f', tonumber(n) + (delta[i] or 0))
      i = i + 1
    end
  end
  for j = i, #delta do out[j] = string.format('%.0f', delta[j]) end
  return table.concat(out, ',')
end
if delta[1] > 0 then
  local fields = { ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[21], ARGV[22] }
  for b = 1, 4 do
    -- The minute's field only in the hour bucket.
    local n = b == 1 and 7 or 6
    local cur = redis.call('HMGET', KEYS[b], unpack(fields, 1, n))
    local args = {}
    for i = 1, n do
      args[#args + 1] = fields[i]
      args[#args + 1] = add(cur[i])
    end
    redis.call('HSET', KEYS[b], unpack(args))
    if b < 4 and not cur[1] then redis.call('EXPIRE', KEYS[b], ARGV[6 + b]) end
    if b == 4 then
      if not cur[3] then redis.call('SADD', KEYS[10], ARGV[17]) end
      if not cur[5] then redis.call('SADD', KEYS[11], ARGV[17]) end
    end
  end
  local tokens = delta[2] + delta[3] + delta[4] + delta[5] + delta[6]
  if ARGV[10] ~= '' then
    local w = redis.call('HMGET', KEYS[5], 'start', 'tokens', 'cost')
    if w[1] == ARGV[10] then
      redis.call('HSET', KEYS[5], 'tokens', string.format('%.0f', tonumber(w[2] or '0') + tokens), 'cost', string.format('%.0f', tonumber(w[3] or '0') + delta[7]))
    end
  end
  if delta[7] > 0 and redis.call('INCRBY', KEYS[7], delta[7]) == delta[7] then redis.call('EXPIRE', KEYS[7], ARGV[18]) end
  redis.call('HSET', KEYS[9], ARGV[15], ARGV[14], ARGV[16], ARGV[14])
  -- Session ledger: field -> "packed|last ms"; '~t' is when the hash's TTL was last pushed forward.
  if ARGV[23] ~= '' then
    local s = redis.call('HMGET', KEYS[12], ARGV[23], '~t')
    local entry = add(s[1] and string.match(s[1], '^[^|]+')) .. '|' .. ARGV[24]
    if not s[2] or tonumber(ARGV[24]) - tonumber(s[2]) >= tonumber(ARGV[26]) then
      redis.call('HSET', KEYS[12], ARGV[23], entry, '~t', ARGV[24])
      redis.call('PEXPIRE', KEYS[12], ARGV[25])
    else
      redis.call('HSET', KEYS[12], ARGV[23], entry)
    end
    local cap = tonumber(ARGV[27])
    if not s[1] and redis.call('HLEN', KEYS[12]) > cap + 1 then
      -- Over the cap: the least recently used entries go.
      local kv, all = redis.call('HGETALL', KEYS[12]), {}
      for i = 1, #kv, 2 do
        if kv[i] ~= '~t' then all[#all + 1] = { kv[i], tonumber(string.match(kv[i + 1], '|(%d+)$') or '0') } end
      end
      table.sort(all, function(x, y) return x[2] < y[2] end)
      local drop = {}
      for i = 1, #all - cap do drop[i] = all[i][1] end
      if #drop > 0 then redis.call('HDEL', KEYS[12], unpack(drop)) end
    end
  end
end
if ARGV[11] ~= '' then redis.call('ZREM', KEYS[6], ARGV[11]) end
local max = tonumber(ARGV[13])
if redis.call('LPUSH', KEYS[8], ARGV[12]) > max + 20 then redis.call('LTRIM', KEYS[8], 0, max - 1) end
return 0`,
  },
  // Admit one request against every limit of a key, atomically: check everything first, and only
  // when all pass count the request (window) and take a concurrency lease. Denied → nothing counted.
  // KEYS: 1 api key record, 2 rate window, 3 leases, 4 day bucket, 5 weekly cost, 6 total bucket,
  //       7 this instance's in-flight hash.
  // ARGV: 1 now ms; 2 now ISO; 3 request id; 4 lease ms; 5 window ms; 6 window requests;
  //       7 window tokens; 8 window cost µ$; 9 concurrency; 10 daily cost µ$; 11 weekly cost µ$;
  //       12 total cost µ$; 13 token limit; 14 activation ms; 15 key field (k:{id});
  //       16 the request's id in the in-flight hash ('' = not tracked); 17 its in-flight entry.
  // Returns {0, windowStart} when admitted, else {code, seconds until the window resets}.
  admit: {
    numberOfKeys: 7,
    lua: `local now = tonumber(ARGV[1])
local function counter(packed, i)
  if not packed then return 0 end
  local j = 1
  for n in string.gmatch(packed, '[^,]+') do
    if j == i then return tonumber(n) end
    j = j + 1
  end
  return 0
end
local activation = tonumber(ARGV[14])
local activatedAt = nil
if activation > 0 then
  activatedAt = tonumber(redis.call('HGET', KEYS[1], 'activatedAtMs') or '')
  if activatedAt and now >= activatedAt + activation then return { 9, 0 } end
end
local windowMs = tonumber(ARGV[5])
local windowStart = ''
if windowMs > 0 then
  local w = redis.call('HMGET', KEYS[2], 'start', 'requests', 'tokens', 'cost')
  if w[1] then
    local resetIn = math.max(1, math.ceil((tonumber(w[1]) + windowMs - now) / 1000))
    if tonumber(ARGV[6]) > 0 and tonumber(w[2] or '0') >= tonumber(ARGV[6]) then return { 1, resetIn } end
    if tonumber(ARGV[7]) > 0 and tonumber(w[3] or '0') >= tonumber(ARGV[7]) then return { 2, resetIn } end
    if tonumber(ARGV[8]) > 0 and tonumber(w[4] or '0') >= tonumber(ARGV[8]) then return { 3, resetIn } end
    windowStart = w[1]
  end
end
local concurrency = tonumber(ARGV[9])
if concurrency > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= concurrency then return { 4, 1 } end
end
if tonumber(ARGV[10]) > 0 and counter(redis.call('HGET', KEYS[4], ARGV[15]), 7) >= tonumber(ARGV[10]) then return { 5, 0 } end
if tonumber(ARGV[11]) > 0 and tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[11]) then return { 6, 0 } end
if tonumber(ARGV[12]) > 0 or tonumber(ARGV[13]) > 0 then
  local total = redis.call('HGET', KEYS[6], ARGV[15])
  if tonumber(ARGV[12]) > 0 and counter(total, 7) >= tonumber(ARGV[12]) then return { 7, 0 } end
  local tokens = counter(total, 2) + counter(total, 3) + counter(total, 4) + counter(total, 5) + counter(total, 6)
  if tonumber(ARGV[13]) > 0 and tokens >= tonumber(ARGV[13]) then return { 8, 0 } end
end
if activation > 0 and not activatedAt then redis.call('HSET', KEYS[1], 'activatedAtMs', ARGV[1], 'activatedAt', ARGV[2]) end
if windowMs > 0 then
  if windowStart == '' then
    windowStart = ARGV[1]
    redis.call('HSET', KEYS[2], 'start', windowStart, 'requests', 1, 'tokens', 0, 'cost', 0)
    redis.call('PEXPIRE', KEYS[2], windowMs)
  else
    redis.call('HINCRBY', KEYS[2], 'requests', 1)
  end
end
if concurrency > 0 then redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[3]) end
if ARGV[16] ~= '' then redis.call('HSET', KEYS[7], ARGV[16], ARGV[17]) end
return { 0, windowStart }`,
  },
  // Count as lost the in-flight requests of every instance whose alive key has expired (it died
  // without recording them), atomically: two instances reaping at once cannot count one twice.
  // Key names built here (`instance:{id}`, `inflight:{id}`) come whole from ARGV, prefix included.
  // KEYS: 1 the instances set, 2 the lost store (request id → entry), 3 the lost store by time.
  // ARGV: 1 alive-key name up to the id, 2 in-flight hash name up to the id, 3 now ms,
  //       4 lost entries kept (the oldest beyond go).
  // Returns the number of requests counted lost now.
  reapLost: {
    numberOfKeys: 3,
    lua: `local moved = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    local inflight = ARGV[2] .. id
    local kv = redis.call('HGETALL', inflight)
    for i = 1, #kv, 2 do
      local entry = kv[i + 1]
      if string.sub(entry, -1) == '}' then entry = string.sub(entry, 1, -2) .. ',"detectedAt":' .. ARGV[3] .. '}' end
      redis.call('HSET', KEYS[2], kv[i], entry)
      redis.call('ZADD', KEYS[3], ARGV[3], kv[i])
      moved = moved + 1
    end
    redis.call('DEL', inflight)
    redis.call('SREM', KEYS[1], id)
  end
end
if moved > 0 then
  local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[4])
  if over > 0 then
    for _, old in ipairs(redis.call('ZRANGE', KEYS[3], 0, over - 1)) do redis.call('HDEL', KEYS[2], old) end
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, over - 1)
  end
end
return moved`,
  },
  // A clean shutdown: the instance leaves (alive key deleted, out of the set) only when none of
  // its requests is still in flight; otherwise its alive key expires and the reaper counts them.
  // KEYS: 1 alive key, 2 in-flight hash, 3 the instances set; ARGV: 1 the instance id.
  // Returns 1 when it left, 0 when requests were still in flight.
  retireInstance: {
    numberOfKeys: 3,
    lua: `if redis.call('HLEN', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
return 1`,
  },
  // Count one login attempt against both throttle buckets atomically, BEFORE the password is
  // checked, so parallel guesses cannot slip past the limit. KEYS: 1 the IP+username bucket, 2 the
  // IP bucket; ARGV: 1 max of bucket 1, 2 max of bucket 2, 3 window s.
  // Returns 0 when allowed, else the seconds until the longest block ends (nothing counted).
  loginAttempt: {
    numberOfKeys: 2,
    lua: `local wait = 0
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i]) then
    wait = math.max(wait, redis.call('TTL', key), 1)
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[3], 'NX')
end
return 0`,
  },
  // The CRS import's share of a usage bucket, replaced: each field becomes current - what the last
  // import added + what this one adds (requests the relay counted meanwhile stay), and the ledger
  // remembers what this one added. A bucket the import creates gets ARGV[1] seconds to live (0 =
  // none); the ledger lives as long as its bucket.
  // KEYS: 1 the bucket; 2 its ledger. ARGV: 1 TTL; then field, packed counters pairs.
  importUsage: {
    numberOfKeys: 2,
    lua: `local function parse(s)
  local t = {}
  if s then for n in string.gmatch(s, '[^,]+') do t[#t + 1] = tonumber(n) or 0 end end
  return t
end
for i = 2, #ARGV, 2 do
  local cur, old, new = parse(redis.call('HGET', KEYS[1], ARGV[i])), parse(redis.call('HGET', KEYS[2], ARGV[i])), parse(ARGV[i + 1])
  local out = {}
  for j = 1, math.max(#cur, #new) do out[j] = string.format('%.0f', math.max(0, (cur[j] or 0) - (old[j] or 0) + (new[j] or 0))) end
  redis.call('HSET', KEYS[1], ARGV[i], table.concat(out, ','))
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
if tonumber(ARGV[1]) > 0 and redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
return 0`,
  },
  // Release a lock only if it is still ours (it may have expired and been taken by another holder).
  // KEYS: 1 the lock; ARGV: 1 the holder's token. Returns 1 when released, 0 otherwise.
  releaseLock: {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
  // First use of a key imported from claude-relay-service (server/keys/legacy.ts): give it this
  // relay's HMAC pointer and drop its legacy hash — only while the record exists, has no other hash
  // and the legacy entry still names it, so a key deleted meanwhile is not half re-created. A second
  // instance doing the same finds the work done and succeeds too.
  // KEYS: 1 legacy:key_hashes, 2 the key's record, 3 its new api_key_hash pointer.
  // ARGV: 1 the CRS hash, 2 the key id, 3 the HMAC. Returns 1 when the key is now under the HMAC, else 0.
  rehashLegacyKey: {
    numberOfKeys: 3,
    lua: `if redis.call('HGET', KEYS[2], 'id') ~= ARGV[2] then return 0 end
local hash = redis.call('HGET', KEYS[2], 'hash')
local named = redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2]
if hash == ARGV[3] then
  if named then redis.call('HDEL', KEYS[1], ARGV[1]) end
  return 1
end
if (hash and hash ~= '') or not named then return 0 end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[2], 'hash', ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`,
  },
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    recordUsage(...keysThenArgs: (string | number)[]): Result<number, Context>
    admit(...keysThenArgs: (string | number)[]): Result<[number, string | number], Context>
    loginAttempt(ipUserKey: string, ipKey: string, maxIpUser: number, maxIp: number, windowSeconds: number): Result<number, Context>
    releaseLock(lockKey: string, token: string): Result<number, Context>
    rehashLegacyKey(legacyHashesKey: string, recordKey: string, pointerKey: string, crsHash: string, keyId: string, hmac: string): Result<number, Context>
    importUsage(bucketKey: string, ledgerKey: string, ttlSeconds: number, ...fieldThenPacked: string[]): Result<number, Context>
    reapLost(instancesKey: string, lostKey: string, lostAtKey: string, aliveKeyStem: string, inflightKeyStem: string, nowMs: number, keep: number): Result<number, Context>
    retireInstance(aliveKey: string, inflightKey: string, instancesKey: string, instanceId: string): Result<number, Context>
  }
}

/** Register the project's Lua scripts on a client. */
export function defineScripts(redis: Redis): Redis {
  for (const [name, def] of Object.entries(SCRIPTS)) redis.defineCommand(name, { lua: def.lua, numberOfKeys: def.numberOfKeys })
  return redis
}
