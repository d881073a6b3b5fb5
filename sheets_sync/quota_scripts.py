"""The quota gate's Redis scripts (``sheets_sync.quota``): each runs atomically, so every process that
shares the buckets sees one order of takes.

``TAKE`` is a sliding-window log per bucket (a token comes back one window after it was spent) under
both levels at once, plus, when pacing is on, a theoretical arrival time per account (GCRA): a request
may go when that time is no more than the allowed burst ahead of now, and moves it one interval
(window / limit) on. Progress requests must leave ``reserve`` tokens of each bucket and the last slot
of the burst to critical ones.
"""

from __future__ import annotations

from sheets_sync.store import LUA_NOW

# KEYS: project log, project limit, user limit, sequence, then one log per candidate account, then one
#       pacing key per candidate account (its theoretical arrival time, in the same order).
# ARGV: now ("" = the server's clock), window, configured project limit, configured user limit, offset,
#       reserve (tokens of each bucket only critical requests may take), burst (0 = no pacing),
#       critical ("1" or "0").
# Returns {index of the account (1-based, 0 = none), wait (string), project used, project limit,
#          account used, user limit}.
TAKE = LUA_NOW + """
local window = tonumber(ARGV[2])
local cutoff = now - window
local plimit = math.min(tonumber(ARGV[3]), tonumber(redis.call('GET', KEYS[2]) or ARGV[3]))
local ulimit = math.min(tonumber(ARGV[4]), tonumber(redis.call('GET', KEYS[3]) or ARGV[4]))
local reserve, burst, critical = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8] == '1'
local pkeep, ukeep, interval, slack = 0, 0, 0, 0
if burst > 0 then interval = window / ulimit end
if critical then
  slack = (burst - 1) * interval
else
  pkeep = math.max(math.min(reserve, plimit - 1), 0)
  ukeep = math.max(math.min(reserve, ulimit - 1), 0)
  slack = math.max(burst - 2, 0) * interval
end
local function wait_for(key, used, limit)
  local entry = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
  return tonumber(entry[2]) + window - now
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
local pused = redis.call('ZCARD', KEYS[1])
if pused >= plimit - pkeep then
  return {0, tostring(wait_for(KEYS[1], pused, plimit - pkeep)), pused, plimit, -1, ulimit}
end
local n = (#KEYS - 4) / 2
local offset = tonumber(ARGV[5]) % n
local best, bestused, bestwait = 0, -1, -1
for i = 0, n - 1 do
  local a = 1 + (offset + i) % n
  redis.call('ZREMRANGEBYSCORE', KEYS[4 + a], '-inf', cutoff)
  local used = redis.call('ZCARD', KEYS[4 + a])
  local wait = 0
  if used >= ulimit - ukeep then wait = wait_for(KEYS[4 + a], used, ulimit - ukeep) end
  if interval > 0 then
    local pace = tonumber(redis.call('GET', KEYS[4 + n + a]) or '0') - slack - now
    if pace > wait then wait = pace end
  end
  if wait <= 0 then
    if best == 0 or used < bestused then best = a; bestused = used end
  elseif bestwait < 0 or wait < bestwait then
    bestwait = wait
  end
end
if best == 0 then
  return {0, tostring(bestwait), pused, plimit, -1, ulimit}
end
local member = string.format('%.6f', now) .. ':' .. redis.call('INCR', KEYS[4])
local ttl = math.ceil(window) + 1
redis.call('ZADD', KEYS[1], now, member)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[4 + best], now, member)
redis.call('EXPIRE', KEYS[4 + best], ttl)
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[4 + n + best]) or '0')
  if tat < now then tat = now end
  redis.call('SET', KEYS[4 + n + best], string.format('%.6f', tat + interval), 'EX', ttl)
end
return {best, '0', pused + 1, plimit, bestused + 1, ulimit}
"""

# KEYS: the adapted limit. ARGV: the reported limit, ttl. Keeps the lowest limit reported.
ADAPT = """
local current = tonumber(redis.call('GET', KEYS[1]))
local value = tonumber(ARGV[1])
if current == nil or value < current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return value
end
return current
"""
