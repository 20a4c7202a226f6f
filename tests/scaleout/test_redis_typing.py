"""Typing state in Redis: one change of state across processes, expiry of dead processes."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from service.realtime.redis_typing import RedisTypingStore
from service.realtime.typing_state import Change, TypingTracker

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_the_user_types_while_any_socket_in_any_process_types(
    redis: Redis, prefix: str
) -> None:
    a = RedisTypingStore(redis, prefix=prefix, timeout=10)
    b = RedisTypingStore(redis, prefix=prefix, timeout=10)

    assert await a.start(3, 7, "sara", "sa") is True
    assert await b.start(3, 7, "sara", "sb") is False
    assert await a.start(3, 7, "sara", "sa") is False  # again: still typing
    assert await b.start(3, 8, "tom", "st") is True  # another user
    assert await b.start(4, 7, "sara", "sb") is True  # another channel

    assert await a.stop(3, 7, "sara", "sa") is False
    assert await b.stop(3, 7, "sara", "sb") is True
    assert await b.stop(3, 7, "sara", "sb") is False


async def test_entries_of_a_dead_process_are_swept_once_with_the_username(
    redis: Redis, prefix: str
) -> None:
    dead = RedisTypingStore(redis, prefix=prefix, timeout=0.2)
    alive = RedisTypingStore(redis, prefix=prefix, timeout=0.2)
    await dead.start(3, 7, "s|a|r|a", "sid1")
    await dead.start(3, 8, "tom", "sid2")
    await alive.start(3, 8, "tom", "sid3")
    await asyncio.sleep(0.1)
    await alive.start(3, 8, "tom", "sid3")  # still typing
    await asyncio.sleep(0.15)

    changes = await alive.sweep()
    assert changes == [Change(3, 7, "s|a|r|a", "sid1", False)]
    assert await dead.sweep() == []
    assert await alive.stop(3, 8, "tom", "sid3") is True


async def test_a_deleted_channel_forgets_its_typists(redis: Redis, prefix: str) -> None:
    store = RedisTypingStore(redis, prefix=prefix, timeout=10)
    await store.start(3, 7, "sara", "s")
    await store.drop_channel(3)
    assert await store.stop(3, 7, "sara", "s") is False
    assert await store.start(3, 7, "sara", "s") is True


async def test_expiry_is_announced_once_by_the_owning_process(redis: Redis, prefix: str) -> None:
    announced: list[Change] = []

    async def on_expire(change: Change) -> None:
        announced.append(change)

    a = TypingTracker(0.2, on_expire, RedisTypingStore(redis, prefix=prefix, timeout=0.2))
    b = TypingTracker(0.2, on_expire, RedisTypingStore(redis, prefix=prefix, timeout=0.2))
    assert await a.start(3, 7, "sara", "sa") is not None
    assert await b.start(3, 7, "sara", "sb") is None
    await asyncio.sleep(0.4)

    # Both timers fired at about the same moment: whichever came second announces.
    assert [(c.channel_id, c.user_id, c.is_typing) for c in announced] == [(3, 7, False)]
