"""The Lua scripts behind ``RedisLimitStore``: one round trip per admit or settle.

Every script receives the same seven keys, all carrying the client's hash tag
so they live on one Redis Cluster slot:

    1 window          sorted set, reservation id -> admission time (µs)
    2 window tokens   hash, reservation id -> tokens it holds in the window
    3 window total    string, sum of the window's tokens, kept incrementally
    4 in flight       sorted set, reservation id -> hold expiry (µs)
    5 in-flight cost  hash, reservation id -> estimated cost (nano-USD)
    6 day spend       hash {period = UTC day number, nanos}
    7 month spend     hash {period = year * 12 + month - 1, nanos}

Times are microseconds from the server's ``TIME`` unless the caller passes an
explicit one (tests only), so replicas with skewed clocks still agree. Lua
turns large numbers into strings with 14 significant digits, so every number
written back to Redis goes through ``int()``, which formats it whole.
"""

from __future__ import annotations

KEY_NAMES = ("win", "wtok", "wsum", "fly", "flycost", "day", "month")

PRELUDE = """
local function int(x)
  return string.format('%.0f', x)
end

local function clock(override)
  if override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function evict_window(win, toks, total, horizon)
  local old = redis.call('ZRANGEBYSCORE', win, '-inf', int(horizon))
  if #old == 0 then return end
  local freed = 0
  for _, id in ipairs(old) do
    freed = freed + (tonumber(redis.call('HGET', toks, id)) or 0)
    redis.call('HDEL', toks, id)
  end
  redis.call('ZREMRANGEBYSCORE', win, '-inf', int(horizon))
  redis.call('DECRBY', total, int(freed))
end

local function expire_window(window_us)
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], int(window_us / 1000 + 1000)) end
end

-- Howard Hinnant's days <-> civil date algorithms, for UTC month boundaries.
local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end

local function first_day_of(y, m)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100)
    + math.floor((153 * mp + 2) / 5)
  return era * 146097 + doe - 719468
end

-- The UTC day and month of ``now``, each with the microseconds left in it.
local function periods(now)
  local day = math.floor(now / 86400000000)
  local y, m = civil_from_days(day)
  local next_month = m == 12 and first_day_of(y + 1, 1) or first_day_of(y, m + 1)
  return day, (day + 1) * 86400000000 - now,
    y * 12 + m - 1, next_month * 86400000000 - now
end

local function spent(key, period)
  local v = redis.call('HMGET', key, 'period', 'nanos')
  if tonumber(v[1]) ~= period then return 0 end
  return tonumber(v[2]) or 0
end

local function charge(key, period, left_us, nanos)
  if tonumber(redis.call('HGET', key, 'period')) ~= period then
    redis.call('HSET', key, 'period', period, 'nanos', 0)
  end
  redis.call('HINCRBY', key, 'nanos', nanos)
  redis.call('PEXPIRE', key, int(left_us / 1000 + 3600000))
end
"""

# ARGV: id, tokens, cost nanos, rpm, tpm, daily budget, monthly budget (-1 = none),
# max concurrent, hold µs, window µs, busy retry µs, now override ('' = TIME).
# Returns {admitted, refused limit, wait µs, resets µs, requests, tokens,
# window reset µs}.
ADMIT = (
    PRELUDE
    + """
local id, tokens, cost = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local rpm, tpm, max_flights = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[8])
local hold, window, busy = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local now = clock(ARGV[12])

evict_window(KEYS[1], KEYS[2], KEYS[3], now - window)
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', int(now))
for _, stale in ipairs(gone) do redis.call('HDEL', KEYS[5], stale) end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', int(now))

local count = redis.call('ZCARD', KEYS[1])
local total = 0
if count == 0 then
  redis.call('DEL', KEYS[3])
else
  total = tonumber(redis.call('GET', KEYS[3]) or '0')
end

local refused, wait, resets = '', -1, 0
local function refuse(name, w, r)
  if w > wait then refused, wait, resets = name, w, r end
end

local function tokens_free_at(excess)
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local freed = 0
  for i = 1, #entries, 2 do
    freed = freed + (tonumber(redis.call('HGET', KEYS[2], entries[i])) or 0)
    if freed >= excess then return tonumber(entries[i + 1]) end
  end
  return now - window
end

if rpm > 0 and count >= rpm then
  local oldest = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
  local w = tonumber(oldest[2]) + window - now
  refuse('requests_per_minute', w, w)
end
local need = math.min(tokens, tpm)
if tpm > 0 and total + need > tpm then
  local w = tokens_free_at(total + need - tpm) + window - now
  refuse('tokens_per_minute', w, w)
end
if max_flights > 0 and redis.call('ZCARD', KEYS[4]) >= max_flights then
  refuse('concurrent_requests', busy, busy)
end

local held = 0
for _, v in ipairs(redis.call('HVALS', KEYS[5])) do held = held + tonumber(v) end
local function check_budget(name, key, period, left, budget)
  if budget < 0 then return end
  local used = spent(key, period)
  if used + held < budget then return end
  refuse(name, used >= budget and left or busy, left)
end
local day, day_left, month, month_left = periods(now)
check_budget('daily_budget', KEYS[6], day, day_left, tonumber(ARGV[6]))
check_budget('monthly_budget', KEYS[7], month, month_left, tonumber(ARGV[7]))

if refused == '' then
  redis.call('ZADD', KEYS[1], int(now), id)
  redis.call('HSET', KEYS[2], id, ARGV[2])
  redis.call('INCRBY', KEYS[3], ARGV[2])
  expire_window(window)
  redis.call('ZADD', KEYS[4], int(now + hold), id)
  redis.call('HSET', KEYS[5], id, cost)
  redis.call('PEXPIRE', KEYS[4], int(hold / 1000 + 1000))
  redis.call('PEXPIRE', KEYS[5], int(hold / 1000 + 1000))
  count, total = count + 1, total + tokens
end

local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local window_reset = 0
if #newest > 0 then window_reset = tonumber(newest[2]) + window - now end
return {refused == '' and 1 or 0, refused, int(math.max(wait, 0)), int(resets),
  count, int(total), int(window_reset)}
"""
)

# ARGV: id, tokens used, cost nanos, window µs, now override ('' = TIME).
SETTLE = (
    PRELUDE
    + """
local id, used, cost = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now = clock(ARGV[5])

local held = redis.call('HGET', KEYS[2], id)
if held then
  redis.call('HSET', KEYS[2], id, ARGV[2])
  redis.call('INCRBY', KEYS[3], int(used - tonumber(held)))
  expire_window(tonumber(ARGV[4]))
end
redis.call('ZREM', KEYS[4], id)
redis.call('HDEL', KEYS[5], id)

if tonumber(cost) > 0 then
  local day, day_left, month, month_left = periods(now)
  charge(KEYS[6], day, day_left, cost)
  charge(KEYS[7], month, month_left, cost)
end
return 1
"""
)

# ARGV: now override ('' = TIME). Returns {day nanos, month nanos}.
SPENT = (
    PRELUDE
    + """
local day, _, month = periods(clock(ARGV[1]))
return {int(spent(KEYS[6], day)), int(spent(KEYS[7], month))}
"""
)
