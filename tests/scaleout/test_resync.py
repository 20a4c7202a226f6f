"""Gaps in the pub/sub, as the manager sees them, on this machine's Redis: a subscriber
learns of another process's failed publish from the notice that process sends once Redis
takes it again, without losing its own subscription; messages without new failures are
no gap. (The drop of the connections after a gap: tests/scaleout/test_client_resume.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from service.realtime.scaleout.manager import ZizanyRedisManager
from tests.scaleout.test_client_resume import until
from tests.support.live import free_port
from tests.support.services import REDIS_URL, new_prefix

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_subscriber_learns_of_another_process_s_failed_publish_from_its_notice(
    redis_client: Redis,
) -> None:
    channel = f"{new_prefix()}:socketio"
    a = ZizanyRedisManager(REDIS_URL, channel=channel, publisher=redis_client)
    b = ZizanyRedisManager(REDIS_URL, channel=channel, publisher=redis_client)
    gaps: list[str] = []
    received: list[dict[str, Any]] = []
    b.on_gap = lambda before, why: gaps.append(why)

    async def listen() -> None:
        async for data in b._listen():
            received.append(data)

    listening = asyncio.create_task(listen())
    unreachable = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    try:
        await until(lambda: b.subscribed, 10, "B subscribed")
        emit = {"method": "emit", "event": "x", "data": [1], "host_id": a.host_id}
        for _ in range(3):
            assert await a._publish(emit) is not None
        await until(lambda: len(received) == 3, 10, "B received A's messages")
        assert gaps == [] and b.gaps == 0

        a.publisher = unreachable  # A cannot reach Redis; B's subscription is fine
        assert await a._publish(emit) is None
        assert a.publish_failures == 1
        await asyncio.sleep(1.0)
        assert gaps == []  # the notice is retried, and cannot get out yet

        a.publisher = redis_client  # Redis takes A's messages again
        await until(lambda: len(gaps) == 1, 10, "B learnt of A's failed publish")
        assert "could not publish 1 broadcast" in gaps[0]
        assert b.resubscriptions == 0 and len(received) == 3  # the notice is not an emit

        # Later messages carry the same count: no further gap.
        for _ in range(3):
            assert await a._publish(emit) is not None
        await until(lambda: len(received) == 6, 10, "B received A's later messages")
        assert len(gaps) == 1
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await a.close()
        await b.close()
        await unreachable.aclose()
