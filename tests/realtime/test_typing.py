"""typing:start / typing:stop: changes only, sender excluded, expiry, end on leave/disconnect."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.clients import RecordingClient
from tests.support.seeded import World

pytestmark = pytest.mark.anyio


async def two_in_a_channel(
    world: World,
) -> tuple[int, RecordingClient, RecordingClient, int, int]:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    _, channel_id = await world.server(sara, omar)
    typist, reader = await world.connect(sara), await world.connect(omar)
    for c in (typist, reader):
        await c.call("channel:join", {"channelId": channel_id})
    return channel_id, typist, reader, sara.id, omar.id


async def test_typing_update_reaches_the_room_but_not_the_sender_on_changes_only(
    world: World,
) -> None:
    channel_id, typist, reader, sara_id, _ = await two_in_a_channel(world)
    assert await typist.call("typing:start", {"channelId": channel_id}) == {
        "ok": True,
        "channelId": channel_id,
    }
    await typist.call("typing:start", {"channelId": channel_id})  # no change: no event
    await typist.call("typing:stop", {"channelId": channel_id})
    await typist.call("typing:stop", {"channelId": channel_id})  # no change: no event
    updates = await reader.wait_for("typing:update", count=2)
    await asyncio.sleep(0.2)
    assert reader.named("typing:update") == [
        {"channelId": channel_id, "userId": sara_id, "username": "Sara", "isTyping": True},
        {"channelId": channel_id, "userId": sara_id, "username": "Sara", "isTyping": False},
    ]
    assert updates
    assert typist.named("typing:update") == []


async def test_typing_expires_without_a_stop(world: World) -> None:
    channel_id, typist, reader, _, _ = await two_in_a_channel(world)
    await typist.call("typing:start", {"channelId": channel_id})
    updates = await reader.wait_for("typing:update", count=2, timeout=5)  # timeout is 0.6 s
    assert [u["isTyping"] for u in updates] == [True, False]


@pytest.mark.parametrize("how", ["disconnect", "channel:leave"])
async def test_typing_ends_when_the_typist_leaves_or_disconnects(world: World, how: str) -> None:
    channel_id, typist, reader, _, _ = await two_in_a_channel(world)
    await typist.call("typing:start", {"channelId": channel_id})
    await reader.wait_for("typing:update")
    if how == "disconnect":
        await typist.close()
    else:
        ack = await typist.call("channel:leave", {"channelId": channel_id})
        assert ack == {"ok": True, "channelId": channel_id}
        assert await typist.wait_for("channel:left") == [{"channelId": channel_id}]
    updates = await reader.wait_for("typing:update", count=2, timeout=0.5)
    assert updates[-1]["isTyping"] is False


async def test_typing_in_a_channel_the_socket_did_not_join_is_forbidden(world: World) -> None:
    sara = await world.user("Sara")
    _, channel_id = await world.server(sara)
    client = await world.connect(sara)
    ack = await client.call("typing:start", {"channelId": channel_id})
    assert ack["ok"] is False and ack["code"] == "E_FORBIDDEN"
    assert (await client.wait_for("error:permission"))[0]["event"] == "typing:start"
    assert client.sio.connected
