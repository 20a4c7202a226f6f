"""The Redis client manager: JSON on the wire, control operations in order, failures counted."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from redis.asyncio import Redis

from service.realtime.redis_common import connect_redis
from service.realtime.scaleout.manager import ZizanyRedisManager
from tests.support.clients import eventually
from tests.support.services import REDIS_URL

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


def emit(manager: ZizanyRedisManager, event: str) -> dict[str, Any]:
    return {"method": "emit", "event": event, "data": [{"n": 1}], "namespace": "/",
            "room": "channel:1", "skip_sid": None, "callback": None, "binary": False,
            "host_id": manager.host_id}  # fmt: skip


async def test_control_operations_arrive_in_order_with_the_emits_as_json(
    redis: Redis, prefix: str
) -> None:
    channel = f"{prefix}:socketio"
    listener = ZizanyRedisManager(REDIS_URL, channel=channel, publisher=redis)
    sender = ZizanyRedisManager(REDIS_URL, channel=channel, publisher=redis)
    seen: list[tuple[str, Any]] = []

    async def on_control(op: dict[str, Any]) -> None:
        seen.append(("control", op))

    listener.on_control = on_control
    raw = redis.pubsub()
    await raw.subscribe(channel)

    async def consume() -> None:
        async for data in listener._listen():
            seen.append(("emit", data["event"]))

    task = asyncio.create_task(consume())
    try:

        async def subscribed() -> bool:
            return listener.subscribed

        await eventually(subscribed, timeout=5)
        await sender._publish(emit(sender, "first"))
        await sender.publish_control({"op": "login_ended", "login_id": "s1"})
        await listener.publish_control({"op": "ignored: the listener's own"})
        await sender._publish(emit(sender, "second"))

        async def all_arrived() -> bool:
            return len(seen) >= 3

        await eventually(all_arrived, timeout=5)
        await asyncio.sleep(0.1)
        assert seen == [
            ("emit", "first"),
            ("control", {"op": "login_ended", "login_id": "s1"}),
            ("emit", "second"),
        ]
        # What travels is JSON (python-socketio no longer pickles queue payloads).
        message = None
        while message is None or message["type"] != "message":
            message = await raw.get_message(timeout=2)
            assert message is not None
        assert json.loads(message["data"])["event"] == "first"
        assert sender.published == 3 and sender.publish_failures == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await listener.close()
        await raw.aclose()  # type: ignore[no-untyped-call]


async def test_a_broadcast_that_cannot_be_published_is_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreachable = connect_redis("redis://127.0.0.1:1/0")
    manager = ZizanyRedisManager("redis://127.0.0.1:1/0", channel="x", publisher=unreachable)
    try:
        with caplog.at_level(logging.ERROR, logger="zizany.scaleout"):
            assert await manager._publish(emit(manager, "message:new")) is None
        assert manager.publish_failures == 1
        assert "broadcast NOT published" in caplog.text
        assert "'message:new' to 'channel:1'" in caplog.text
    finally:
        await unreachable.aclose()
