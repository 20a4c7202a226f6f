"""Sliding-window counters shared by several processes, in Redis.

One sorted set per key (`{prefix}:{key}`): a member per event, scored by its time on the
Redis clock, at most `limit` kept; a Lua script prunes, counts and records atomically, so
two processes never both let the `limit`-th + 1 event through. Semantics match
`service.auth.throttle.InMemorySlidingWindow` exactly.

While Redis is unreachable the counter falls back to an in-process window (logged): the
limits then hold per process instead of across them, and requests keep working.
"""

from __future__ import annotations

import logging
import secrets
import time

from redis.asyncio import Redis

from service.auth.throttle import InMemorySlidingWindow, LoginThrottle
from service.limits import EventLimits, configured_limits
from service.realtime.redis_common import LUA_HELPERS, REDIS_ERRORS
from service.settings import Settings

log = logging.getLogger("zizany.ratelimit")

# How often the fallback is logged while Redis stays down.
_FALLBACK_LOG_INTERVAL = 30.0

_WINDOW = (
    LUA_HELPERS
    + """
-- KEYS: the key   ARGV: mode ('check' | 'acquire' | 'hit'), limit, window_ms, event id
-- → -1 when below the limit (and, unless 'check', the event was recorded), else the wait in ms
local now = now_ms()
local limit, window = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local wait = -1
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now
end
if ARGV[1] == 'check' or (ARGV[1] == 'acquire' and wait >= 0) then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[4])
if count + 1 > limit then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, count - limit) end
redis.call('PEXPIRE', KEYS[1], window)
return -1
"""
)


class RedisSlidingWindow:
    """A `SlidingWindowCounter` in Redis, with an in-process fallback during outages."""

    def __init__(self, redis: Redis, *, prefix: str, limit: int, window_seconds: float) -> None:
        # Answers while Redis is unreachable; building it checks the limit and the window.
        self.fallback = InMemorySlidingWindow(limit=limit, window_seconds=window_seconds)
        self.limit, self.window_seconds = limit, window_seconds
        self.redis = redis
        self.prefix = prefix
        self._window_ms = max(1, round(window_seconds * 1000))
        self._script = redis.register_script(_WINDOW)
        self.fallbacks = 0  # calls answered by the in-process window (Redis unreachable)
        self._last_logged = -_FALLBACK_LOG_INTERVAL

    async def _run(self, mode: str, key: str) -> tuple[bool, float | None]:
        """(True, the wait in seconds or None when below the limit), or (False, None) if
        Redis failed."""
        try:
            wait_ms = await self._script(
                keys=[f"{self.prefix}:{key}"],
                args=[mode, self.limit, self._window_ms, secrets.token_hex(8)],
            )
        except REDIS_ERRORS as exc:
            self.fallbacks += 1
            now = time.monotonic()
            if now - self._last_logged >= _FALLBACK_LOG_INTERVAL:
                self._last_logged = now
                log.warning("rate limits counted in this process only: Redis unreachable (%r)", exc)
            return False, None
        wait = int(wait_ms)
        return True, (None if wait < 0 else wait / 1000)

    async def hit(self, key: str) -> None:
        """Record one event for the key."""
        ok, _ = await self._run("hit", key)
        if not ok:
            await self.fallback.hit(key)

    async def retry_after(self, key: str) -> float | None:
        """Seconds until the key is below its limit again, or None when it is below now."""
        ok, wait = await self._run("check", key)
        return wait if ok else await self.fallback.retry_after(key)

    async def acquire(self, key: str) -> float | None:
        """Record an event unless the key is at its limit; returns `retry_after` if refused."""
        ok, wait = await self._run("acquire", key)
        return wait if ok else await self.fallback.acquire(key)

    async def reset(self, key: str) -> None:
        """Forget the key's events."""
        await self.fallback.reset(key)
        try:
            await self.redis.delete(f"{self.prefix}:{key}")
        except REDIS_ERRORS:
            log.warning("rate-limit key %r not reset: Redis unreachable", key)


class SharedCounters:
    """Makes the counters a deployment shares in Redis, each under `{prefix}:rate:{name}`,
    and keeps every one it made (for their metrics)."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.made: list[RedisSlidingWindow] = []

    def counter(self, name: str, limit: int, window_seconds: float) -> RedisSlidingWindow:
        """The counter at `{prefix}:rate:{name}` with `limit` events per `window_seconds`."""
        self.made.append(
            RedisSlidingWindow(
                self.redis,
                prefix=f"{self.prefix}:rate:{name}",
                limit=limit,
                window_seconds=window_seconds,
            )
        )
        return self.made[-1]


def redis_message_rate(counters: SharedCounters, settings: Settings) -> RedisSlidingWindow:
    """The per-user posting limit (socket and REST), `{prefix}:rate:messages`."""
    return counters.counter(
        "messages", settings.message_rate_limit, settings.message_rate_window_seconds
    )


def redis_login_throttle(counters: SharedCounters, settings: Settings) -> LoginThrottle:
    """The login throttle, its counters at `{prefix}:rate:login-{name}`."""
    return LoginThrottle(
        lambda name, limit, window: counters.counter(f"login-{name}", limit, window),
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
    )


def redis_event_limits(counters: SharedCounters, settings: Settings) -> EventLimits:
    """The other client events' limits; every counter at `{prefix}:rate:events` (the
    dispatcher's keys name the counter)."""
    return EventLimits(
        configured_limits(settings),
        lambda _name, limit, window: counters.counter("events", limit, window),
    )
