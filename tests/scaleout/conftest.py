"""Redis for the scale-out tests: a client and a key prefix of its own, cleaned up after.

The Redis server is this machine's (127.0.0.1:6379, or ZIZANY_TEST_REDIS_URL). When it is
missing these tests skip locally and fail with CI=true. Tests that restart Redis or
PostgreSQL are marked `restarts_services` and run after every other test of the session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from service.realtime.redis_common import connect_redis
from tests.support.cluster import Cluster, Node, People, Sockets
from tests.support.services import REDIS_URL, need, new_prefix


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (pyproject lists the project-wide ones)."""
    config.addinivalue_line(
        "markers",
        "restarts_services: restarts this machine's Redis or PostgreSQL; runs last",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart shared services run after all others (they disturb everyone)."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_services") is not None)


async def delete_prefix(redis: Redis, prefix: str) -> None:
    """Delete every key under the prefix."""
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the test Redis (skips locally when it is down, fails with CI=true)."""
    client = connect_redis(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        need(False, f"Redis at {REDIS_URL} unavailable: {exc!r}")
        raise
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A fresh key prefix, deleted after the test."""
    value = new_prefix()
    try:
        yield value
    finally:
        await delete_prefix(redis, value)


# Fixtures the two-process test modules share; a module that needs another `a` or
# `people` (sigkill restarts its node, workers go through one port) defines its own.
@pytest.fixture
def a(pair: Cluster) -> Node:
    return pair.nodes["A"]


@pytest.fixture
def b(pair: Cluster) -> Node:
    return pair.nodes["B"]


@pytest.fixture
async def people(a: Node) -> AsyncIterator[People]:
    async with People(a.url) as made:
        yield made


@pytest.fixture
async def sockets() -> AsyncIterator[Sockets]:
    made = Sockets()
    try:
        yield made
    finally:
        await made.close()
