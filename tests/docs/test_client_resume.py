"""The generated Python client misses no message across a reconnect.

`ZizanyClient(reconnect=True)` stays subscribed while the server process is restarted
(same port, same SQLite file) and another user keeps posting over REST: afterwards it has
received every stored message of the channel exactly once, in id order, some of them
fetched by its catch-up (posted while it was away) and the rest live.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from generated.realtime.client import ZizanyClient
from generated.realtime.models import ChannelJoin, Message, ServerJoin
from tests.support.clients import Api, eventually, expect
from tests.support.cluster import Node, cookie
from tests.support.live import free_port
from tests.support.world import Poster, server_with, stored_ids

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    """One server process over a SQLite file in tmp_path (what `zizany serve` runs)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZIZANY_")}
    env.update(
        {
            "PYTHONDONTWRITEBYTECODE": "1",
            "ZIZANY_DATA_DIR": str(tmp_path / "data"),
            "ZIZANY_SECRET_KEY": "resume-test-secret-" + "r" * 40,
            "ZIZANY_ARGON2_TIME_COST": "1",
            "ZIZANY_ARGON2_MEMORY_COST": "1024",
            "ZIZANY_STRICT_EMITS": "true",
            "ZIZANY_MESSAGE_RATE_LIMIT": "10000",
        }
    )
    made = Node(name="solo", port=free_port(), env=env, log_path=tmp_path / "solo.log")
    made.start().wait_ready()
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture
async def api(node: Node) -> AsyncIterator[Api]:
    async with Api(node.url) as made:
        yield made


async def test_a_subscribed_client_sees_every_message_once_in_order_across_a_server_restart(
    node: Node, api: Api
) -> None:
    sender, reader = await api.person("sender"), await api.person("reader")
    server_id, channel_id = await server_with(sender, reader)
    poster = Poster(sender, channel_id)
    expect(
        await sender.http.post(f"/api/channels/{channel_id}/messages", json={"content": "old"}),
        201,
    )  # before the reader joined: not part of what it must see

    seen: list[Message] = []
    client = ZizanyClient(reconnect=True, reconnect_delay=2.0, timeout=10)

    @client.on_message_new
    def remember(message: Message) -> None:
        seen.append(message)

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(client)
        await client.connect(node.url, cookie=cookie(reader), transports=["websocket"])
        await client.server_join(ServerJoin(serverId=server_id))
        await client.channel_join(ChannelJoin(channelId=channel_id))
        assert client.joined_rooms == [f"server:{server_id}", f"channel:{channel_id}"]
        first = [await poster.post() for _ in range(3)]
        assert None not in first
        await eventually(lambda: _at_least(seen, 3), timeout=10)

        stop = asyncio.Event()
        posting = asyncio.create_task(poster.keep_posting(stop))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(node.stop)
        await asyncio.to_thread(lambda: node.start().wait_ready())
        # Posted while the reader is certainly away: stored and broadcast to nobody.
        away = 0
        while not client.connected and away < 5:
            if await poster.post() is not None and not client.connected:
                away += 1
        assert away >= 1, "the reader reconnected before anything was posted"
        await eventually(_connected(client), timeout=30)
        await asyncio.sleep(1.0)  # live messages again, after the catch-up
        stop.set()
        await posting

        stored = await stored_ids(sender, channel_id)
        expected = [i for i in stored if i >= (first[0] or 0)]
        await eventually(lambda: _at_least(seen, len(expected)), timeout=20)
        await asyncio.sleep(0.5)  # nothing more (no duplicate) arrives late
        assert [m.id for m in seen] == expected
        assert client.caught_up >= away
        assert client.catch_up_failures == 0 and client.off_spec == []


async def _at_least(seen: list[Message], count: int) -> bool:
    return len(seen) >= count


def _connected(client: ZizanyClient) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return client.connected

    return check
