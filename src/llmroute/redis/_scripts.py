"""The Lua scripts RedisState runs on the server, each under a versioned name.

A script's text starts with its name and version, so its SHA1 changes with any change to it:
two library versions running side by side during a rolling deploy each call their own. They
are called with EVALSHA; a server that does not have them (new, restarted, flushed) answers
NOSCRIPT, and they are loaded (``SCRIPT LOAD``) by the write-behind thread or, after a read,
in the background.
"""

from __future__ import annotations

from hashlib import sha1

__all__ = ["ADD_SAMPLE", "PUBLISH_LEASE", "SCRIPTS", "Script"]


class Script:
    """One Lua script: its versioned ``name``, its ``text`` and the ``sha`` EVALSHA calls."""

    __slots__ = ("name", "sha", "text")

    def __init__(self, name: str, body: str) -> None:
        self.name = name
        self.text = f"-- llmroute {name}\n{body}"
        self.sha = sha1(self.text.encode("utf-8")).hexdigest()


#: How long a writer's applied-outcome marks live after its last write (ms).
ONCE_TTL_MS = 86_400_000

# An outcome's writes are made idempotent: each store's writer numbers its outcomes (in the
# order it sends them) and keeps, in a hash of its own, the last number applied per part
# ("u" usage, "t" turn, "h" health); a retried write whose first reply was lost is skipped.
_ONCE = f"""
local function done(key, part, n)
  if n == '' then return false end
  return tonumber(redis.call('HGET', key, part) or '0') >= tonumber(n)
end
local function mark(key, part, n)
  if n == '' then return end
  redis.call('HSET', key, part, n)
  redis.call('PEXPIRE', key, {ONCE_TTL_MS})
end
"""

#: Compare-and-set of a health entry. KEYS: entry, sequence, the writer's marks. ARGV: the
#: entry expected ("" for none), the new JSON part ("" deletes), "1" to stamp a new ejection
#: sequence, TTL in ms, the outcome's number ("" for none: a read's probe lease).
#: Answers {1, new entry} or {0, the current entry} on a conflict ({1, the current entry}
#: when that outcome was applied already).
CAS_HEALTH = Script(
    "cas_health:v2",
    _ONCE
    + """
local cur = redis.call('GET', KEYS[1]) or ''
if done(KEYS[3], 'h', ARGV[5]) then return {1, cur} end
if cur ~= ARGV[1] then return {0, cur} end
mark(KEYS[3], 'h', ARGV[5])
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  return {1, ''}
end
local seq
if ARGV[3] == '1' then
  seq = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], 86400000)
else
  seq = string.match(cur, '^(%d+)|') or '0'
end
local new = seq .. '|' .. ARGV[2]
redis.call('SET', KEYS[1], new, 'PX', ARGV[4])
return {1, new}
""",
)

#: Set a pin. KEYS: the pin, the new service's sessions set. ARGV: "nx" (a new session: the
#: first writer wins) or "move", the value, TTL in ms, the sessions member, its expiry, the
#: sessions-set prefix, the new service id. A pin already on that service is kept as it is.
#: Answers the pin in force.
SET_PIN = Script(
    "set_pin:v1",
    """
local cur = redis.call('GET', KEYS[1])
if cur then
  local old = string.match(cur, '^([^\\t]*)\\t')
  if ARGV[1] == 'nx' or old == ARGV[7] then return cur end
  if old then redis.call('ZREM', ARGV[6] .. old, ARGV[4]) end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return ARGV[2]
""",
)

#: Release a pin when it is on the given service. KEYS: the pin, that service's sessions set.
#: ARGV: the service id, the sessions member. Answers 1 when it was released.
RELEASE_PIN = Script(
    "release_pin:v1",
    """
local cur = redis.call('GET', KEYS[1])
if not cur or string.match(cur, '^([^\\t]*)\\t') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
""",
)

#: Count a served request into a service's usage window (opened at its first request, as the
#: in-memory stats do). KEYS: the window. ARGV: now, the window's length in seconds, then
#: requests, input tokens, output tokens, cache hits, cache misses to add; and the clock time
#: before which sessions-set members have expired, with the sessions set as KEYS[2]; the
#: outcome's number, with the writer's marks as KEYS[3].
ADD_USAGE = Script(
    "add_usage:v2",
    _ONCE
    + """
if done(KEYS[3], 'u', ARGV[9]) then return 0 end
mark(KEYS[3], 'u', ARGV[9])
local now = tonumber(ARGV[1])
local length = tonumber(ARGV[2])
local start = tonumber(redis.call('HGET', KEYS[1], 's') or '')
if not start or now - start >= length then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'w', ARGV[2])
end
redis.call('HINCRBY', KEYS[1], 'r', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'i', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'o', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'h', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'm', ARGV[7])
redis.call('PEXPIRE', KEYS[1], math.floor(length * 2000))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[8])
return 1
""",
)

#: Advance a rule's round-robin turn. KEYS: the turn counter, the writer's marks. ARGV: its
#: TTL in ms, the outcome's number. Answers the new turn (0 when applied already).
ADVANCE_TURN = Script(
    "advance_turn:v1",
    _ONCE
    + """
if done(KEYS[2], 't', ARGV[2]) then return 0 end
mark(KEYS[2], 't', ARGV[2])
local turn = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return turn
""",
)

#: Publish a replica's lease of calls in flight. KEYS: the fleet's leases (a hash: replica id
#: -> "{expires_ms}|{json}", on the server's clock). ARGV: the replica id, the lease's TTL in
#: ms, its JSON body, "1" to drop the expired leases. Answers {the server's time in ms, the
#: hash's fields and values}: the publisher learns the other leases in the same round trip.
PUBLISH_LEASE = Script(
    "publish_lease:v1",
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], (now + ttl) .. '|' .. ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
if ARGV[4] == '1' then
  local kept = {}
  for i = 1, #all, 2 do
    local untill = tonumber(string.match(all[i + 1], '^(%d+)|') or '0')
    if untill <= now then
      redis.call('HDEL', KEYS[1], all[i])
    else
      kept[#kept + 1] = all[i]
      kept[#kept + 1] = all[i + 1]
    end
  end
  all = kept
end
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return {now, all}
""",
)

#: Add a latency / TTFT / speed sample to a service's shared samples (newest first, at most
#: a bound). KEYS: the samples list, the writer's marks. ARGV: the sample
#: ("{time}|{latency}|{ttft}|{speed}", empty for none), the bound, TTL in ms, the outcome's
#: number. Answers 1 (0 when applied already).
ADD_SAMPLE = Script(
    "add_sample:v1",
    _ONCE
    + """
if done(KEYS[2], 's', ARGV[4]) then return 0 end
mark(KEYS[2], 's', ARGV[4])
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
""",
)

SCRIPTS: tuple[Script, ...] = (
    CAS_HEALTH,
    SET_PIN,
    RELEASE_PIN,
    ADD_USAGE,
    ADVANCE_TURN,
    PUBLISH_LEASE,
    ADD_SAMPLE,
)
