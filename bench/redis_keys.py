"""Redis for the bench's multi-process scenarios: is it there, and forget a run's keys."""

from __future__ import annotations

import redis.asyncio as aioredis

REDIS_URL = "redis://127.0.0.1:6379/0"


async def redis_reachable(url: str) -> str | None:
    """None when Redis answers PING, else why not."""

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        return repr(exc)
    finally:
        await client.aclose()
    return None


async def redis_forget(url: str, prefix: str) -> int:
    """Delete the run's keys (`{prefix}:*`, SCAN + DEL); how many."""

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await client.delete(*batch))
                batch = []
        if batch:
            deleted += int(await client.delete(*batch))
    finally:
        await client.aclose()
    return deleted
