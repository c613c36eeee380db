"""The Lua scripts of the Redis budget store: the rules of ``window.DeploymentState``, atomic in Redis.

Every script takes KEYS[1] (the window: a hash of ``<second>:r`` and ``<second>:t`` counters) and
KEYS[2] (the state: cooldown, hints, failures, ejection, probe), both under the deployment's hash
tag so that a cluster keeps them in one slot. ARGV[1] is ``now``, ARGV[2] the seconds idle keys
outlive the window. Times travel as decimal strings; waits come back in whole milliseconds (Redis
turns Lua numbers into integers), -1 meaning never.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

__all__ = ["CHARGE", "COOL", "FAIL", "RECONCILE", "RELEASE", "REMAINING", "RESERVE", "Scripts"]

logger = logging.getLogger("llmport.budget")

_PRELUDE = """
local W = 61  -- domain.budget.BUCKET_LIFETIME: a bucket counts until 61 s after its second began
local wkey, skey = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local margin = tonumber(ARGV[2])
local nows = math.floor(now)

local function load()
  local raw = redis.call('HGETALL', wkey)
  local secs, seen, r, t, stale = {}, {}, {}, {}, {}
  for i = 1, #raw, 2 do
    local sec = tonumber(string.sub(raw[i], 1, -3))
    if sec <= nows - W then
      table.insert(stale, raw[i])
    else
      if not seen[sec] then seen[sec] = true; table.insert(secs, sec) end
      local counts = t
      if string.sub(raw[i], -1) == 'r' then counts = r end
      counts[sec] = tonumber(raw[i + 1])
    end
  end
  if #stale > 0 then redis.call('HDEL', wkey, unpack(stale)) end
  table.sort(secs)
  local st = {}
  local sraw = redis.call('HGETALL', skey)
  for i = 1, #sraw, 2 do st[sraw[i]] = sraw[i + 1] end
  return secs, r, t, st
end

local function num(st, name) return tonumber(st[name] or '0') end

local function used(secs, counts)
  local total = 0
  for _, sec in ipairs(secs) do total = total + (counts[sec] or 0) end
  return total
end

local function window_wait(secs, counts, need, limit)
  if limit < 0 then return 0 end
  if need > limit then return math.huge end
  local excess = used(secs, counts) + need - limit
  for _, sec in ipairs(secs) do
    if excess <= 0 then break end
    excess = excess - (counts[sec] or 0)
    if excess <= 0 then return sec + W - now end
  end
  return 0
end

local function health(st)
  if st['ejected'] ~= '1' then return 'closed' end
  if now < num(st, 'open_until') then return 'open' end
  return 'half_open'
end

local function hint_wait(st, kind, need)
  local left = st['hint_' .. kind]
  local untl = num(st, 'hint_' .. kind .. '_until')
  if left ~= nil and now < untl and tonumber(left) < need then return untl - now end
  return 0
end

local function assess(secs, r, t, st, rpm, tpm, tokens)
  if num(st, 'cooling_until') > now then return 'cooling', num(st, 'cooling_until') - now end
  local h = health(st)
  if h == 'open' then return 'ejected', num(st, 'open_until') - now end
  if h == 'half_open' and num(st, 'probe_until') > now then return 'probing', num(st, 'probe_until') - now end
  local wr = math.max(window_wait(secs, r, 1, rpm), hint_wait(st, 'requests', 1))
  local wt = math.max(window_wait(secs, t, tokens, tpm), hint_wait(st, 'tokens', tokens))
  if wr <= 0 and wt <= 0 then return nil, 0 end
  if wt >= wr then return 'tokens', wt end
  return 'requests', wr
end

local function ms(wait)
  if wait == math.huge then return -1 end
  return math.ceil(math.max(wait, 0) * 1000)
end

local function take_hint(first)
  for i, kind in ipairs({'requests', 'tokens'}) do
    local left, reset = ARGV[first + 2 * i - 2], ARGV[first + 2 * i - 1]
    if left ~= '' then
      local untl = tostring(now + tonumber(reset))
      redis.call('HSET', skey, 'hint_' .. kind, left, 'hint_' .. kind .. '_until', untl)
    end
  end
end

local function adjust(second, delta)
  local field = second .. ':t'
  if redis.call('HEXISTS', wkey, field) == 1 then
    if redis.call('HINCRBY', wkey, field, delta) < 0 then redis.call('HSET', wkey, field, 0) end
  end
end

local function expire_state()
  local latest = now
  for _, name in ipairs({'cooling_until', 'open_until', 'probe_until'}) do
    local value = redis.call('HGET', skey, name)
    if value then latest = math.max(latest, tonumber(value)) end
  end
  redis.call('PEXPIRE', skey, math.ceil((latest - now + W + margin) * 1000))
end
"""

# ARGV[3..8]: tokens, rpm, tpm (-1: none), probe_timeout, lease calls wanted (0: none), lease second.
# -> {1, probe, second, lease calls granted} | {0, reason, wait_ms}
#
# A lease: room for ``want`` more calls of ``tokens`` each, charged at once to the bucket of the
# second the lease ends in (it counts at least as long as any call made under it), granted only
# to a healthy deployment (closed, no failure counted) whose every limit, and the provider's hint
# while it holds, stays at most half used with the call and the lease counted.
RESERVE = (
    _PRELUDE
    + """
local tokens, rpm, tpm = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local want = tonumber(ARGV[7])
local secs, r, t, st = load()
local reason, wait = assess(secs, r, t, st, rpm, tpm, tokens)
if reason then return {0, reason, ms(wait)} end
local probe = 0
if health(st) == 'half_open' then probe = 1 end
local lease = 0
if want > 0 and probe == 0 and num(st, 'failures') == 0 then
  local need_r, need_t = 1 + want, tokens * (1 + want)
  local plenty = true
  if rpm >= 0 and 2 * (used(secs, r) + need_r) > rpm then plenty = false end
  if tpm >= 0 and 2 * (used(secs, t) + need_t) > tpm then plenty = false end
  for _, kind in ipairs({'requests', 'tokens'}) do
    local left = st['hint_' .. kind]
    local need = need_r
    if kind == 'tokens' then need = need_t end
    if left ~= nil and now < num(st, 'hint_' .. kind .. '_until') and tonumber(left) < 2 * need then
      plenty = false
    end
  end
  if plenty then lease = want end
end
redis.call('HINCRBY', wkey, nows .. ':r', 1)
redis.call('HINCRBY', wkey, nows .. ':t', tokens)
local life = W + margin
if lease > 0 then
  redis.call('HINCRBY', wkey, ARGV[8] .. ':r', lease)
  redis.call('HINCRBY', wkey, ARGV[8] .. ':t', lease * tokens)
  life = math.max(life, tonumber(ARGV[8]) + W - now)  -- the lease's bucket may be next second's
end
if redis.call('PTTL', wkey) < life * 1000 then redis.call('PEXPIRE', wkey, math.ceil(life * 1000)) end
if st['hint_requests'] then redis.call('HINCRBY', skey, 'hint_requests', -(1 + lease)) end
if st['hint_tokens'] then redis.call('HINCRBY', skey, 'hint_tokens', -tokens * (1 + lease)) end
if probe == 1 then
  redis.call('HSET', skey, 'probe_until', tostring(now + tonumber(ARGV[6])))
end
if redis.call('EXISTS', skey) == 1 then expire_state() end
return {1, probe, nows, lease}
"""
)

# ARGV[3..5]: a lease's second, its requests and tokens left unused: given back to its bucket.
RELEASE = (
    _PRELUDE
    + """
for i, kind in ipairs({'r', 't'}) do
  local field = ARGV[3] .. ':' .. kind
  local amount = tonumber(ARGV[3 + i])
  if amount > 0 and redis.call('HEXISTS', wkey, field) == 1 then
    if redis.call('HINCRBY', wkey, field, -amount) < 0 then redis.call('HSET', wkey, field, 0) end
  end
end
return 1
"""
)

# ARGV[3..4]: requests, tokens taken elsewhere (a process's fallback while it could not reach
# Redis): counted in this second's bucket, so that every process sees them for a window.
CHARGE = (
    _PRELUDE
    + """
local requests, tokens = tonumber(ARGV[3]), tonumber(ARGV[4])
if requests > 0 then redis.call('HINCRBY', wkey, nows .. ':r', requests) end
if tokens > 0 then redis.call('HINCRBY', wkey, nows .. ':t', tokens) end
local life = W + margin
if redis.call('PTTL', wkey) < life * 1000 then redis.call('PEXPIRE', wkey, math.ceil(life * 1000)) end
return 1
"""
)

# ARGV[3..8]: second, delta, hint (requests, reset, tokens, reset; '' when absent).
RECONCILE = (
    _PRELUDE
    + """
adjust(ARGV[3], tonumber(ARGV[4]))
take_hint(5)
redis.call('HDEL', skey, 'failures', 'ejected', 'open_until', 'probe_until')
if redis.call('EXISTS', skey) == 1 then expire_state() end
return 1
"""
)

# ARGV[3..13]: second, tokens, hint x4, cool_until ('' none), counts, probe, eject_after, eject_for.
FAIL = (
    _PRELUDE
    + """
adjust(ARGV[3], -tonumber(ARGV[4]))
take_hint(5)
if ARGV[9] ~= '' then
  local cool = tonumber(ARGV[9])
  if cool > tonumber(redis.call('HGET', skey, 'cooling_until') or '0') then
    redis.call('HSET', skey, 'cooling_until', tostring(cool))
  end
end
local probe = ARGV[11] == '1'
if probe then redis.call('HDEL', skey, 'probe_until') end
if ARGV[10] == '1' then
  local failures = redis.call('HINCRBY', skey, 'failures', 1)
  local ejected = redis.call('HGET', skey, 'ejected') == '1'
  if probe or (not ejected and failures >= tonumber(ARGV[12])) then
    redis.call('HSET', skey, 'ejected', '1', 'open_until', tostring(now + tonumber(ARGV[13])))
  end
end
if redis.call('EXISTS', skey) == 1 then expire_state() end
local st = {}
local sraw = redis.call('HGETALL', skey)
for i = 1, #sraw, 2 do st[sraw[i]] = sraw[i + 1] end
return health(st)
"""
)

# ARGV[3]: until.
COOL = (
    _PRELUDE
    + """
local cool = tonumber(ARGV[3])
if cool > tonumber(redis.call('HGET', skey, 'cooling_until') or '0') then
  redis.call('HSET', skey, 'cooling_until', tostring(cool))
end
expire_state()
return 1
"""
)

# ARGV[3..4]: rpm, tpm (-1: none). -> {requests (-1: none), tokens (-1: none), health, wait_ms}
REMAINING = (
    _PRELUDE
    + """
local rpm, tpm = tonumber(ARGV[3]), tonumber(ARGV[4])
local secs, r, t, st = load()
local reason, wait = assess(secs, r, t, st, rpm, tpm, 0)
local left = {-1, -1}
for i, kind in ipairs({'requests', 'tokens'}) do
  local limit = ({rpm, tpm})[i]
  if limit >= 0 then left[i] = limit - used(secs, ({r, t})[i]) end
  local hint = st['hint_' .. kind]
  local active = hint ~= nil and now < num(st, 'hint_' .. kind .. '_until')
  if active then
    if limit < 0 then left[i] = tonumber(hint) else left[i] = math.min(left[i], tonumber(hint)) end
  end
  if limit >= 0 or active then left[i] = math.max(left[i], 0) end
end
if not reason then wait = 0 end
return {left[1], left[2], health(st), ms(wait)}
"""
)


class Scripts:
    """A store's scripts, run by their SHA1 (EVALSHA), and the commands that load them all.

    With them goes the store's mark, a key that never expires (``<prefix>:mark``): set when the
    scripts are loaded the first time, found missing when they are loaded again (Redis lost them),
    it says whether Redis lost its data too (restarted empty, flushed), or only its scripts.
    """

    def __init__(self, prefix: str) -> None:
        self._sources = {
            "reserve": RESERVE,
            "reconcile": RECONCILE,
            "fail": FAIL,
            "cool": COOL,
            "remaining": REMAINING,
            "release": RELEASE,
            "charge": CHARGE,
        }
        self._sha = {
            # Redis names a script by its SHA1: an identifier, not a protection
            name: hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
            for name, source in self._sources.items()
        }
        self._mark = f"{prefix}:mark"
        self.loaded = False  # whether Redis was given the scripts (on first use)
        self._marked = False  # whether Redis was seen holding the mark

    def run(self, name: str, keys: list[str], *args: Any) -> tuple[Any, ...]:
        """The command that runs script ``name`` on ``keys`` with ``args``."""
        return ("EVALSHA", self._sha[name], len(keys), *keys, *args)

    def loading(self) -> list[tuple[Any, ...]]:
        """Every script at once, so that Redis holds all of them or none, then setting the mark."""
        loads: list[tuple[Any, ...]] = [("SCRIPT", "LOAD", source) for source in self._sources.values()]
        return [*loads, ("SET", self._mark, "1", "NX")]

    def loaded_now(self, marked: Any) -> bool:
        """The scripts are loaded; ``marked`` answered setting the mark. Whether Redis lost its data
        (then logged on ``llmport.budget``)."""
        self.loaded = True
        lost = marked is not None and not isinstance(marked, Exception) and self._marked
        self._marked = True
        if lost:
            logger.warning(
                "Redis budget store: Redis lost every budget, cooldown and ejection (restarted "
                "empty, or flushed); they count again from zero. Make Redis keep its data across "
                "restarts (appendonly yes) if that matters"
            )
        return lost
