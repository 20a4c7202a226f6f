"""The process's Redis client under a burst: commands wait for a connection, none fails."""

from __future__ import annotations

import asyncio

import pytest

from service.realtime.redis_common import POOL_SIZE, connect_redis
from tests.support.services import REDIS_URL, need, redis_answers

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_a_burst_of_publishes_beyond_the_pool_waits_instead_of_failing() -> None:
    # A burst of message:create on several workers publishes many broadcasts at once. A
    # pool that refuses past its size (redis-py's default: MaxConnectionsError past 100)
    # lost those broadcasts for the other processes, which then dropped their sockets.
    need(redis_answers(), f"Redis at {REDIS_URL} unavailable")
    client = connect_redis(REDIS_URL)
    try:
        burst = 3 * POOL_SIZE
        results = await asyncio.gather(
            *(client.publish("zizany-test-burst", "x") for _ in range(burst)),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == [], f"{len(failures)} of {burst} failed: {failures[:1]!r}"
    finally:
        await client.aclose()
