"""Typing state shared by several processes, in Redis.

Per channel, a sorted set of the sockets that type, each with its expiry (Redis clock):
`{prefix}:typing:{channel_id}` holds "{user_id}|{sid}"; and the set of users announced as
typing, `{prefix}:typing:{channel_id}:announced`. Starting and stopping run as Lua
scripts: a start announces `isTyping: true` when it adds the user to the announced set,
and whoever removes the user's last live entry takes the user out of it and announces
`isTyping: false`. Each true is followed by exactly one false, across processes, even
when a socket's timer and another socket's stop meet at the moment of expiry.

The process that owns a socket announces its expiry (its timer fires at the timeout). A
process that dies cannot: every entry is also in `{prefix}:typing:due`, scored by expiry,
and the periodic sweep of any process removes the expired entries and reports the users
who stopped typing because of them (with the username kept in the entry, for the event).
"""

from __future__ import annotations

from redis.asyncio import Redis

from service.realtime.redis_common import LUA_HELPERS
from service.realtime.typing_state import Change

SWEEP_BATCH = 500

# "Does any live entry of the user remain in the channel's set?" as a Lua function.
_LUA_TYPES = """
local function types(key, user_prefix, now)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf')) do
    if string.sub(member, 1, #user_prefix) == user_prefix then return true end
  end
  return false
end
"""

_START = (
    LUA_HELPERS
    + """
-- KEYS: channel, announced, due   ARGV: user_id, sid, due member, ttl_ms
-- → 1 when the user starts typing (announce isTyping: true)
local now = now_ms()
local ttl = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1] .. '|' .. ARGV[2])
extend(KEYS[1], ttl)
redis.call('ZADD', KEYS[3], now + ttl, ARGV[3])
extend(KEYS[3], ttl)
local added = redis.call('SADD', KEYS[2], ARGV[1])
extend(KEYS[2], ttl)
return added
"""
)

_STOP = (
    LUA_HELPERS
    + _LUA_TYPES
    + """
-- KEYS: channel, announced, due   ARGV: user_id, sid, due member
-- → 1 when the user stops typing (announce isTyping: false)
local user_prefix = ARGV[1] .. '|'
local removed = redis.call('ZREM', KEYS[1], user_prefix .. ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[3])
if removed == 0 or types(KEYS[1], user_prefix, now_ms()) then return 0 end
return redis.call('SREM', KEYS[2], ARGV[1])
"""
)

_SWEEP = (
    LUA_HELPERS
    + _LUA_TYPES
    + """
-- KEYS: due   ARGV: prefix, limit
-- → the number of expired entries, then the due members whose user stopped typing
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {#expired}
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local channel_id, user_id, sid = string.match(member, '^(%d+)|(%d+)|([^|]*)|')
  if channel_id then
    local key = ARGV[1] .. ':typing:' .. channel_id
    local entry = user_id .. '|' .. sid
    local score = redis.call('ZSCORE', key, entry)
    if score and tonumber(score) <= now then redis.call('ZREM', key, entry) end
    if not types(key, user_id .. '|', now)
        and redis.call('SREM', key .. ':announced', user_id) == 1 then
      table.insert(out, member)
    end
  end
end
return out
"""
)


class RedisTypingStore:
    """`TypingStore` in Redis, shared by every process with the same prefix."""

    def __init__(self, redis: Redis, *, prefix: str, timeout: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self._ttl_ms = round(timeout * 1000)
        self._start = redis.register_script(_START)
        self._stop = redis.register_script(_STOP)
        self._sweep = redis.register_script(_SWEEP)

    def _channel_key(self, channel_id: int) -> str:
        return f"{self.prefix}:typing:{channel_id}"

    def _keys(self, channel_id: int) -> list[str]:
        channel = self._channel_key(channel_id)
        return [channel, f"{channel}:announced", self._due_key]

    @property
    def _due_key(self) -> str:
        return f"{self.prefix}:typing:due"

    @staticmethod
    def _due_member(channel_id: int, user_id: int, username: str, sid: str) -> str:
        return f"{channel_id}|{user_id}|{sid}|{username}"

    async def start(self, channel_id: int, user_id: int, username: str, sid: str) -> bool:
        """Record that the socket types; True when the user was not typing (any process)."""
        started = await self._start(
            keys=self._keys(channel_id),
            args=[
                user_id,
                sid,
                self._due_member(channel_id, user_id, username, sid),
                self._ttl_ms,
            ],
        )
        return bool(started)

    async def stop(self, channel_id: int, user_id: int, username: str, sid: str) -> bool:
        """Forget the socket's typing; True when no socket of the user types any more."""
        stopped = await self._stop(
            keys=self._keys(channel_id),
            args=[user_id, sid, self._due_member(channel_id, user_id, username, sid)],
        )
        return bool(stopped)

    async def drop_channel(self, channel_id: int) -> None:
        """Forget a deleted channel (its due entries find nothing left and are dropped)."""
        channel = self._channel_key(channel_id)
        await self.redis.delete(channel, f"{channel}:announced")

    async def sweep(self) -> list[Change]:
        """Expire the entries nobody expired (their process died); the resulting stops."""
        changes: list[Change] = []
        while True:
            found = await self._sweep(keys=[self._due_key], args=[self.prefix, SWEEP_BATCH])
            for member in found[1:]:
                channel_id, user_id, sid, username = str(member).split("|", 3)
                changes.append(Change(int(channel_id), int(user_id), username, sid, False))
            if int(found[0]) < SWEEP_BATCH:
                return changes
