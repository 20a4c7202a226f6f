"""message:create / update / delete over sockets: errors, order, rate limit, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.app import create_app
from service.db.engine import create_engine, session_factory
from tests.support.factories import stored_contents
from tests.support.live import LiveServer
from tests.support.seeded import World, seeded_settings

pytestmark = pytest.mark.anyio


async def channel_contents(world: World, channel_id: int) -> list[str]:
    async with world.sessionmaker() as session:
        return await stored_contents(session, channel_id)


async def test_200_messages_from_one_socket_are_stored_and_received_in_send_order(
    world: World,
) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    _, channel_id = await world.server(sara, omar)
    sender, reader = await world.connect(sara), await world.connect(omar)
    for c in (sender, reader):
        await c.call("channel:join", {"channelId": channel_id})
    contents = [f"m{i}" for i in range(200)]
    for content in contents:
        await sender.emit("message:create", {"channelId": channel_id, "content": content})
    for c in (sender, reader):
        received = await c.wait_for("message:new", count=200, timeout=60)
        assert [m["content"] for m in received] == contents
    assert await channel_contents(world, channel_id) == contents


async def test_message_create_errors_and_the_connection_survives_each(world: World) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    _, channel_id = await world.server(sara)
    _, public_channel = await world.server(sara, public=True)
    outsider = await world.connect(omar)
    cases = [
        ({"channelId": channel_id, "content": "   "}, "error:validation", "E_VALIDATION"),
        ({"channelId": channel_id}, "error:validation", "E_VALIDATION"),
        ({"channelId": 999_999, "content": "hi"}, "error:not_found", "E_CHANNEL_NOT_FOUND"),
        # A private server's channel is missing to a non-member; a public one's forbidden.
        ({"channelId": channel_id, "content": "hi"}, "error:not_found", "E_CHANNEL_NOT_FOUND"),
        ({"channelId": public_channel, "content": "hi"}, "error:permission", "E_FORBIDDEN"),
    ]
    for payload, event, code in cases:
        ack = await outsider.call("message:create", payload)
        assert (ack["ok"], ack["code"]) == (False, code)
        assert (await outsider.wait_for(event))[-1]["code"] == code
    assert outsider.sio.connected
    assert await channel_contents(world, channel_id) == []


async def test_message_update_and_delete_follow_the_roles(world: World) -> None:
    sara, omar, lina = await world.user("Sara"), await world.user("Omar"), await world.user("Lina")
    _, channel_id = await world.server(sara, omar)
    owner, member, outsider = (
        await world.connect(sara),
        await world.connect(omar),
        await world.connect(lina),
    )
    for c in (owner, member):
        await c.call("channel:join", {"channelId": channel_id})
    created = (await member.call("message:create", {"channelId": channel_id, "content": "v1"}))[
        "message"
    ]
    message_id = created["id"]

    forbidden = await owner.call("message:update", {"messageId": message_id, "content": "x"})
    assert forbidden["code"] == "E_FORBIDDEN"  # only the author edits
    hidden = await outsider.call("message:update", {"messageId": message_id, "content": "x"})
    assert hidden["code"] == "E_MESSAGE_NOT_FOUND"  # cannot see it: not found
    missing = await member.call("message:delete", {"messageId": 999_999})
    assert missing["code"] == "E_MESSAGE_NOT_FOUND"

    edited = await member.call("message:update", {"messageId": message_id, "content": " v2 "})
    assert edited["ok"] is True and edited["message"]["content"] == "v2"
    (updated,) = await owner.wait_for("message:updated")
    assert updated == edited["message"]
    assert updated["created_at"] == created["created_at"]

    deleted = await owner.call("message:delete", {"messageId": message_id})  # the owner may
    assert deleted == {"ok": True, "messageId": message_id, "channelId": channel_id}
    assert await member.wait_for("message:deleted") == [
        {"messageId": message_id, "channelId": channel_id}
    ]
    assert await channel_contents(world, channel_id) == []


async def test_flooding_is_answered_with_error_rate_limited(tmp_path: Path) -> None:
    settings = seeded_settings(tmp_path, message_rate_limit=3, message_rate_window_seconds=30)
    app = create_app(settings)
    assert app.realtime is not None
    live = LiveServer(app).start()
    engine = create_engine(settings)
    world = World(live, app.realtime, session_factory(engine))
    try:
        sara = await world.user("Sara")
        _, channel_id = await world.server(sara)
        client = await world.connect(sara)
        acks = [
            await client.call("message:create", {"channelId": channel_id, "content": f"{i}"})
            for i in range(5)
        ]
        assert [a["ok"] for a in acks] == [True, True, True, False, False]
        assert acks[3]["code"] == "E_RATE_LIMITED"
        errors = await client.wait_for("error:rate_limited", count=2)
        assert errors[0]["code"] == "E_RATE_LIMITED"
        assert 0 < errors[0]["retryAfterMs"] <= 30_000
        assert client.sio.connected
        assert await channel_contents(world, channel_id) == ["0", "1", "2"]
        await client.close()
    finally:
        await engine.dispose()
        live.stop()
