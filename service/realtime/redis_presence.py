"""Presence shared by several processes: one Redis lease per connected socket.

A lease names (user, process, socket) and expires `lease_ttl` seconds after it was last
written. Each process re-writes the leases of its live sockets every `refresh_interval`
seconds, so a user is online while any of their leases is live. When a process dies
without saying goodbye (SIGKILL, power loss), its leases simply stop being refreshed:
they expire at most `lease_ttl` after the last refresh, and the next sweep (every
process sweeps every `sweep_interval` seconds; a Lua script makes each expiry count
once) reports the users that went offline, so that `presence:update` can follow.
The bound from a kill to the update is therefore `lease_ttl + sweep_interval` plus the
time to send the update (15 s + 5 s by default; the contract allows 45 s).

A process has a stable identity (`process_id`, e.g. `host:port` or `host:port/w2`):
started again under the same identity it first clears the leases of its previous life.

Keys (under `prefix`):
  {prefix}:presence:user:{user_id}     ZSET  "{process}|{sid}" → expiry (ms, Redis clock)
  {prefix}:presence:leases             ZSET  "{user_id}|{process}|{sid}" → expiry (sweeps)
  {prefix}:presence:process:{process}  SET   "{user_id}|{sid}" (what a restart clears)

This process's own sockets are also kept locally: Redis is the shared view, the local
index is the truth about this process's sockets. When Redis fails (restart, outage) the
local index survives, and the next successful refresh writes every lease back and reports
the users whose presence may have changed meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis.asyncio import Redis

from service.realtime.redis_common import LUA_HELPERS, REDIS_ERRORS

log = logging.getLogger("zizany.presence")

# Leases written per script call: keeps every call short (Redis runs one script at a time).
REFRESH_BATCH = 500
SWEEP_BATCH = 1000

_CONNECT = (
    LUA_HELPERS
    + """
-- KEYS: user, leases, process   ARGV: user_id, process_id, sid, ttl_ms
local now = now_ms()
local ttl = tonumber(ARGV[4])
local live = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2] .. '|' .. ARGV[3])
extend(KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3])
extend(KEYS[2], ttl)
redis.call('SADD', KEYS[3], ARGV[1] .. '|' .. ARGV[3])
extend(KEYS[3], ttl)
if live == 0 then return 1 end
return 0
"""
)

_DISCONNECT = (
    LUA_HELPERS
    + """
-- KEYS: user, leases, process   ARGV: user_id, process_id, sid
local removed = redis.call('ZREM', KEYS[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3])
redis.call('SREM', KEYS[3], ARGV[1] .. '|' .. ARGV[3])
if removed == 0 then return 0 end
if redis.call('ZCOUNT', KEYS[1], '(' .. now_ms(), '+inf') == 0 then return 1 end
return 0
"""
)

_ONLINE = (
    LUA_HELPERS
    + """
-- KEYS: user keys   → 1/0 per key: has a live lease
local now = now_ms()
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZCOUNT', key, '(' .. now, '+inf') > 0 then out[i] = 1 else out[i] = 0 end
end
return out
"""
)

_REFRESH = (
    LUA_HELPERS
    + """
-- KEYS: leases, process, then one user key per lease
-- ARGV: process_id, ttl_ms, then (user_id, sid) per lease
-- → the users that had no live lease before (they came back, e.g. after a Redis restart)
local now = now_ms()
local ttl = tonumber(ARGV[2])
local came, seen = {}, {}
for i = 3, #KEYS do
  local user_id, sid = ARGV[2 * (i - 3) + 3], ARGV[2 * (i - 3) + 4]
  local key = KEYS[i]
  if not seen[user_id] then
    seen[user_id] = true
    if redis.call('ZCOUNT', key, '(' .. now, '+inf') == 0 then table.insert(came, user_id) end
  end
  redis.call('ZADD', key, now + ttl, ARGV[1] .. '|' .. sid)
  extend(key, ttl)
  redis.call('ZADD', KEYS[1], now + ttl, user_id .. '|' .. ARGV[1] .. '|' .. sid)
  redis.call('SADD', KEYS[2], user_id .. '|' .. sid)
end
extend(KEYS[1], ttl)
extend(KEYS[2], ttl)
return came
"""
)

_SWEEP = (
    LUA_HELPERS
    + """
-- KEYS: leases   ARGV: prefix, limit
-- → the number of expired leases removed, then the users left without a live lease
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local touched, order = {}, {}
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local user_id, process, sid = string.match(member, '^(%d+)|(.*)|([^|]*)$')
  if user_id then
    local key = ARGV[1] .. ':presence:user:' .. user_id
    local score = redis.call('ZSCORE', key, process .. '|' .. sid)
    if score and tonumber(score) <= now then
      redis.call('ZREM', key, process .. '|' .. sid)
      redis.call('SREM', ARGV[1] .. ':presence:process:' .. process, user_id .. '|' .. sid)
    end
    if not touched[user_id] then touched[user_id] = true; table.insert(order, user_id) end
  end
end
local gone = {}
for _, user_id in ipairs(order) do
  local key = ARGV[1] .. ':presence:user:' .. user_id
  if redis.call('ZCOUNT', key, '(' .. now, '+inf') == 0 then table.insert(gone, user_id) end
end
table.insert(gone, 1, #expired)
return gone
"""
)

_CLEAR_PROCESS = (
    LUA_HELPERS
    + """
-- KEYS: leases, process   ARGV: prefix, process_id   → users left without a live lease
local now = now_ms()
local touched, order = {}, {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local user_id, sid = string.match(member, '^(%d+)|(.*)$')
  if user_id then
    redis.call('ZREM', ARGV[1] .. ':presence:user:' .. user_id, ARGV[2] .. '|' .. sid)
    redis.call('ZREM', KEYS[1], user_id .. '|' .. ARGV[2] .. '|' .. sid)
    if not touched[user_id] then touched[user_id] = true; table.insert(order, user_id) end
  end
end
redis.call('DEL', KEYS[2])
local gone = {}
for _, user_id in ipairs(order) do
  local key = ARGV[1] .. ':presence:user:' .. user_id
  if redis.call('ZCOUNT', key, '(' .. now, '+inf') == 0 then table.insert(gone, user_id) end
end
return gone
"""
)


class RedisPresence:
    """`Presence` over Redis leases; see the module docstring for the keys and the bound."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        process_id: str,
        lease_ttl: float = 15.0,
        refresh_interval: float = 5.0,
        sweep_interval: float = 5.0,
    ) -> None:
        if "|" in process_id:
            raise ValueError(f"a process id may not contain '|': {process_id!r}")
        if not 0 < refresh_interval < lease_ttl:
            raise ValueError(
                f"need 0 < refresh interval < lease TTL, got {refresh_interval!r}, {lease_ttl!r}"
            )
        self.redis = redis
        self.prefix = prefix
        self.process_id = process_id
        self.lease_ttl = lease_ttl
        self.refresh_interval = refresh_interval
        self.sweep_interval = sweep_interval
        self._ttl_ms = round(lease_ttl * 1000)
        self._local: dict[str, int] = {}  # sid → user id: this process's sockets
        # Users whose lease change could not be written: announce them after the next refresh.
        self._unsynced: set[int] = set()
        self._connect = redis.register_script(_CONNECT)
        self._disconnect = redis.register_script(_DISCONNECT)
        self._online = redis.register_script(_ONLINE)
        self._refresh = redis.register_script(_REFRESH)
        self._sweep = redis.register_script(_SWEEP)
        self._clear = redis.register_script(_CLEAR_PROCESS)

    @property
    def offline_bound(self) -> float:
        """Seconds from a process's death to the sweep that reports its users offline."""
        return self.lease_ttl + self.sweep_interval

    def _user_key(self, user_id: int | str) -> str:
        return f"{self.prefix}:presence:user:{user_id}"

    @property
    def _leases_key(self) -> str:
        return f"{self.prefix}:presence:leases"

    @property
    def _process_key(self) -> str:
        return f"{self.prefix}:presence:process:{self.process_id}"

    async def connect(self, user_id: int, sid: str) -> bool:
        """Take a lease for the socket; True when it is the user's first in any process."""
        self._local[sid] = user_id
        try:
            first = await self._connect(
                keys=[self._user_key(user_id), self._leases_key, self._process_key],
                args=[user_id, self.process_id, sid, self._ttl_ms],
            )
        except REDIS_ERRORS:
            log.warning("presence lease of socket %s not written (Redis): retried", sid)
            self._unsynced.add(user_id)
            return False
        return bool(first)

    async def disconnect(self, user_id: int, sid: str) -> bool:
        """Drop the socket's lease; True when it was the user's last live one anywhere."""
        if self._local.pop(sid, None) is None:
            return False
        try:
            last = await self._disconnect(
                keys=[self._user_key(user_id), self._leases_key, self._process_key],
                args=[user_id, self.process_id, sid],
            )
        except REDIS_ERRORS:
            log.warning("presence lease of socket %s not dropped (Redis): retried", sid)
            self._unsynced.add(user_id)
            return False
        return bool(last)

    async def online(self, user_ids: Iterable[int]) -> set[int]:
        """Which of these users have a live lease (raises while Redis is unreachable)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return set()
        flags = await self._online(keys=[self._user_key(uid) for uid in ids], args=[])
        return {uid for uid, flag in zip(ids, flags, strict=True) if int(flag)}

    async def refresh(self) -> set[int]:
        """Re-write this process's leases; the users whose presence may have changed.

        Those are the users whose leases had all lapsed (Redis restarted, or this process
        stalled longer than the TTL) and the users of lease changes that failed earlier.
        """
        snapshot = list(self._local.items())
        unsynced, self._unsynced = self._unsynced, set()
        changed: set[int] = set()
        try:
            for start in range(0, len(snapshot), REFRESH_BATCH):
                batch = snapshot[start : start + REFRESH_BATCH]
                args: list[str | int] = [self.process_id, self._ttl_ms]
                for sid, uid in batch:
                    args += [uid, sid]
                came = await self._refresh(
                    keys=[
                        self._leases_key,
                        self._process_key,
                        *(self._user_key(uid) for _, uid in batch),
                    ],
                    args=args,
                )
                changed.update(int(uid) for uid in came)
            # A socket that disconnected while its lease was being re-written: drop it again.
            for sid, uid in snapshot:
                if sid not in self._local:
                    await self._disconnect(
                        keys=[self._user_key(uid), self._leases_key, self._process_key],
                        args=[uid, self.process_id, sid],
                    )
                    changed.add(uid)
        except BaseException:
            self._unsynced |= unsynced
            raise
        return changed | unsynced

    async def sweep(self) -> set[int]:
        """Remove expired leases of any process; the users left with none (now offline)."""
        gone: set[int] = set()
        while True:
            found = await self._sweep(keys=[self._leases_key], args=[self.prefix, SWEEP_BATCH])
            gone.update(int(uid) for uid in found[1:])
            if int(found[0]) < SWEEP_BATCH:
                return gone

    async def clear_process(self) -> set[int]:
        """Remove every lease of this process id (a previous life's, or ours at shutdown)."""
        gone = await self._clear(
            keys=[self._leases_key, self._process_key], args=[self.prefix, self.process_id]
        )
        return {int(uid) for uid in gone}
