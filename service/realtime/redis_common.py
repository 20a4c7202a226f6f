"""What the Redis-backed parts share: the client settings, Lua helpers, errors to survive.

Scripts read the time from Redis (`TIME`), so that the clocks of the hosts running the
processes never matter. Scripts build some key names themselves: the deployment target
is one Redis server (`redis://` or `rediss://`), not Redis Cluster.
"""

from __future__ import annotations

import socket

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What a Redis outage raises: redis-py's own errors, socket errors, and asyncio timeouts.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)

# Keys outlive the entries they hold by this much: entries end by the scripts (which
# announce what changed); key expiry only collects what a vanished deployment left behind.
KEY_GRACE_MS = 120_000

# `now_ms()`: Redis's clock in milliseconds. `extend(key, ttl)`: keep the key at least
# `ttl` ms (plus the grace) more; never shorten it (processes refresh at different moments).
LUA_HELPERS = f"""
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl + {KEY_GRACE_MS} then
    redis.call('PEXPIRE', key, ttl + {KEY_GRACE_MS})
  end
end
"""


# A connection that silently died (no RST: a network partition) is noticed within about a
# minute instead of the system default of two hours; matters most for the pub/sub listener.
KEEPALIVE_OPTIONS: dict[int, int] = (
    {socket.TCP_KEEPIDLE: 30, socket.TCP_KEEPINTVL: 10, socket.TCP_KEEPCNT: 3}
    if hasattr(socket, "TCP_KEEPIDLE")
    else {}
)


# Connections one process's client may hold at once. Past that, a command waits (up to
# POOL_WAIT_SECONDS) for one to come free: redis-py's default pool instead fails at once
# (MaxConnectionsError, 100 connections), and under a burst of message:create on several
# workers every failed publish made the other processes drop their sockets to resync.
POOL_SIZE = 256
POOL_WAIT_SECONDS = 5.0


def connect_redis(url: str) -> Redis:
    """A client that fails fast while Redis is down and reconnects by itself afterwards."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_SECONDS,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        socket_keepalive=True,
        socket_keepalive_options=KEEPALIVE_OPTIONS,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    client: Redis = Redis.from_pool(pool)
    return client
