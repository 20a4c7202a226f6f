"""Sliding-window counters in Redis: one limit across processes, a local fallback."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from service.errors import RateLimited
from service.realtime.redis_common import connect_redis
from service.realtime.redis_counters import (
    RedisSlidingWindow,
    SharedCounters,
    redis_login_throttle,
)
from service.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_the_limit_holds_across_processes(redis: Redis, prefix: str) -> None:
    a = RedisSlidingWindow(redis, prefix=prefix, limit=3, window_seconds=0.5)
    b = RedisSlidingWindow(redis, prefix=prefix, limit=3, window_seconds=0.5)

    assert await a.acquire("messages:1") is None
    assert await b.acquire("messages:1") is None
    assert await a.acquire("messages:1") is None
    wait = await b.acquire("messages:1")
    assert wait is not None and 0 < wait <= 0.5
    assert await a.acquire("messages:2") is None  # another key
    assert await a.retry_after("messages:1") == pytest.approx(wait, abs=0.05)

    await asyncio.sleep(wait + 0.02)
    assert await b.acquire("messages:1") is None


async def test_hit_retry_after_and_reset(redis: Redis, prefix: str) -> None:
    counter = RedisSlidingWindow(redis, prefix=prefix, limit=2, window_seconds=60)
    await counter.hit("k")
    assert await counter.retry_after("k") is None
    await counter.hit("k")
    await counter.hit("k")  # over the limit: only the newest `limit` events are kept
    assert await redis.zcard(f"{prefix}:k") == 2
    wait = await counter.retry_after("k")
    assert wait is not None and 59 < wait <= 60
    await counter.reset("k")
    assert await counter.retry_after("k") is None


async def test_login_failures_on_two_processes_add_up(
    redis: Redis, prefix: str, tmp_path: object
) -> None:
    settings = Settings(login_max_failures=3, login_window_seconds=60)
    throttles = [redis_login_throttle(SharedCounters(redis, prefix=prefix), settings) for _ in "ab"]
    for throttle in (throttles[0], throttles[1], throttles[0]):
        await throttle.record_failure(email="ann@example.test", address="10.0.0.1")
    with pytest.raises(RateLimited):
        await throttles[1].check(email="ANN@example.test", address="10.0.0.1")
    await throttles[1].check(email="ann@example.test", address="10.0.0.2")  # the owner's


async def test_an_unreachable_redis_falls_back_to_counting_in_this_process() -> None:
    unreachable = connect_redis("redis://127.0.0.1:1/0")
    try:
        counter = RedisSlidingWindow(unreachable, prefix="x", limit=1, window_seconds=60)
        assert await counter.acquire("k") is None
        assert await counter.acquire("k") is not None
        assert counter.fallbacks == 2
    finally:
        await unreachable.aclose()
