"""Presence leases in Redis: first/last socket across processes, expiry, restarts."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from service.realtime.redis_presence import RedisPresence

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


def process(redis: Redis, prefix: str, name: str, ttl: float = 30.0) -> RedisPresence:
    return RedisPresence(
        redis, prefix=prefix, process_id=name, lease_ttl=ttl, refresh_interval=ttl / 3
    )


async def test_first_and_last_socket_count_across_processes(redis: Redis, prefix: str) -> None:
    a, b = process(redis, prefix, "host:4001"), process(redis, prefix, "host:4002")

    assert await a.connect(7, "s1") is True
    assert await b.connect(7, "s2") is False
    assert await a.connect(7, "s3") is False
    assert await b.online([7, 8]) == {7}

    assert await a.disconnect(7, "s1") is False
    assert await a.disconnect(7, "s3") is False
    assert await a.online([7]) == {7}
    assert await b.disconnect(7, "s2") is True
    assert await a.online([7]) == set()


async def test_disconnecting_an_unknown_socket_changes_nothing(redis: Redis, prefix: str) -> None:
    a = process(redis, prefix, "a")
    await a.connect(1, "s1")
    assert await a.disconnect(1, "nope") is False
    assert await a.disconnect(1, "s1") is True
    assert await a.disconnect(1, "s1") is False


async def test_leases_of_a_dead_process_expire_and_one_sweep_reports_them(
    redis: Redis, prefix: str
) -> None:
    dead = process(redis, prefix, "dead", ttl=0.3)
    alive = process(redis, prefix, "alive", ttl=0.3)
    await dead.connect(1, "d1")
    await dead.connect(2, "d2")
    await alive.connect(2, "a2")

    await asyncio.sleep(0.2)
    await alive.refresh()  # `alive` keeps its lease; `dead` does not refresh
    await asyncio.sleep(0.2)

    assert await alive.online([1, 2]) == {2}
    # User 2 still has a live lease: only user 1 went offline; a second sweep finds nothing.
    assert await alive.sweep() == {1}
    assert await dead.sweep() == set()
    assert await redis.zcard(f"{prefix}:presence:leases") == 1


async def test_refreshing_keeps_leases_alive_beyond_their_ttl(redis: Redis, prefix: str) -> None:
    a = process(redis, prefix, "a", ttl=0.3)
    await a.connect(5, "s")
    for _ in range(4):
        await asyncio.sleep(0.1)
        assert await a.refresh() == set()
    assert await a.online([5]) == {5}
    assert await a.sweep() == set()


async def test_a_restarted_process_clears_the_leases_of_its_previous_life(
    redis: Redis, prefix: str
) -> None:
    before = process(redis, prefix, "host:4000")
    other = process(redis, prefix, "host:4001")
    await before.connect(1, "old1")
    await before.connect(2, "old2")
    await other.connect(2, "other2")

    after = process(redis, prefix, "host:4000")  # same identity, new life
    assert await after.clear_process() == {1}
    assert await other.online([1, 2]) == {2}
    assert await redis.exists(f"{prefix}:presence:process:host:4000") == 0
    assert await other.disconnect(2, "other2") is True


async def test_a_refresh_writes_back_leases_lost_by_redis_and_reports_their_users(
    redis: Redis, prefix: str
) -> None:
    a = process(redis, prefix, "a")
    await a.connect(1, "s1")
    await a.connect(1, "s2")
    await a.connect(2, "s3")
    await redis.delete(*[key async for key in redis.scan_iter(match=f"{prefix}:*")])
    assert await a.online([1, 2]) == set()

    assert await a.refresh() == {1, 2}
    assert await a.online([1, 2]) == {1, 2}
    assert await a.refresh() == set()
    assert await a.disconnect(1, "s1") is False
    assert await a.disconnect(1, "s2") is True


async def test_process_ids_with_the_separator_are_refused(redis: Redis, prefix: str) -> None:
    with pytest.raises(ValueError, match="may not contain"):
        process(redis, prefix, "a|b")
