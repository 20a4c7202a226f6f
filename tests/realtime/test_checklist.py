"""socket-spec.md's testing checklist, item by item, with real clients on a live server."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from tests.support.clients import RecordingClient
from tests.support.seeded import World

pytestmark = pytest.mark.anyio

SEED_MESSAGE_KEYS = {"id", "channel_id", "content", "created_at", "updated_at", "user"}


async def test_authenticated_socket_connection_succeeds(world: World) -> None:
    sara = await world.user("Sara")
    client = await world.connect(sara)
    assert client.sio.connected


@pytest.mark.parametrize("cookie", [None, "connect.sid=forged", "connect.sid=abc.def"])
async def test_unauthenticated_socket_connection_fails_with_e_unauthorized(
    world: World, cookie: str | None
) -> None:
    client = RecordingClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(world.live.url, headers={"Cookie": cookie} if cookie else {})
    assert client.connect_error == {"message": "E_UNAUTHORIZED"}


async def test_a_handshake_from_a_foreign_origin_is_refused(world: World) -> None:
    sara = await world.user("Sara")
    client = RecordingClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            world.live.url, headers={**sara.headers, "Origin": "http://evil.example"}
        )
    allowed = RecordingClient()
    await allowed.connect(
        world.live.url, headers={**sara.headers, "Origin": "http://localhost:3000"}
    )
    await allowed.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_room_join_works_per_server_and_channel(world: World, transport: str) -> None:
    sara = await world.user("Sara")
    server_id, channel_id = await world.server(sara)
    client = await world.connect(sara, transport)
    assert await client.call("server:join", {"serverId": server_id}) == {
        "ok": True,
        "serverId": server_id,
    }
    assert await client.wait_for("server:joined") == [{"serverId": server_id}]
    (presence,) = await client.wait_for("presence:update")
    assert presence == {"serverId": server_id, "onlineUserIds": [sara.id]}
    await client.emit("channel:join", {"channelId": channel_id})
    assert await client.wait_for("channel:joined") == [{"channelId": channel_id}]


async def test_server_join_by_a_non_member_or_of_a_missing_server_is_forbidden(
    world: World,
) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    server_id, _ = await world.server(sara)
    public_id, _ = await world.server(sara, public=True)
    client = await world.connect(omar)
    for refused in (server_id, public_id, 999_999):
        await client.emit("server:join", {"serverId": refused})
    errors = await client.wait_for("error:permission", count=3)
    assert [e["code"] for e in errors] == ["E_FORBIDDEN"] * 3
    assert client.named("server:joined") == []
    assert client.sio.connected


async def test_channel_join_by_a_non_member_finds_a_private_channel_missing_a_public_forbidden(
    world: World,
) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    _, private_channel = await world.server(sara)
    _, public_channel = await world.server(sara, public=True)
    client = await world.connect(omar)
    missing = await client.call("channel:join", {"channelId": 999_999})
    hidden = await client.call("channel:join", {"channelId": private_channel})
    forbidden = await client.call("channel:join", {"channelId": public_channel})
    assert [missing["code"], hidden["code"], forbidden["code"]] == [
        "E_CHANNEL_NOT_FOUND",
        "E_CHANNEL_NOT_FOUND",
        "E_FORBIDDEN",
    ]
    # A private channel answers exactly as a missing one would: nothing to probe.
    assert hidden["message"] == f"no channel {private_channel}"
    assert [e["code"] for e in await client.wait_for("error:not_found", count=2)] == [
        "E_CHANNEL_NOT_FOUND"
    ] * 2
    assert (await client.wait_for("error:permission"))[0]["code"] == "E_FORBIDDEN"
    assert client.named("channel:joined") == []
    assert client.sio.connected


async def test_multi_tab_broadcast_reaches_every_tab_with_the_seed_payload_shape(
    world: World,
) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    _, channel_id = await world.server(sara, omar)
    tab1, tab2, other = (
        await world.connect(sara),
        await world.connect(sara),
        await world.connect(omar),
    )
    for c in (tab1, tab2, other):
        await c.call("channel:join", {"channelId": channel_id})
    ack = await tab1.call("message:create", {"channelId": channel_id, "content": "  Hello  "})
    assert ack["ok"] is True
    for c in (tab1, tab2, other):
        (message,) = await c.wait_for("message:new")
        assert set(message) == SEED_MESSAGE_KEYS
        assert message == ack["message"]
        assert message["content"] == "Hello"
        assert message["user"] == {"id": sara.id, "username": "Sara"}
        assert message["created_at"].endswith("Z") and len(message["created_at"]) == 24


async def test_presence_reflects_real_connections_and_two_tabs_count_once(world: World) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    server_id, _ = await world.server(sara, omar)
    watcher = await world.connect(sara)
    await watcher.call("server:join", {"serverId": server_id})
    assert (await watcher.wait_for("presence:update"))[-1]["onlineUserIds"] == [sara.id]

    tab1 = await world.connect(omar)
    updates = await watcher.wait_for("presence:update", count=2)
    assert updates[-1]["onlineUserIds"] == sorted([sara.id, omar.id])
    tab2 = await world.connect(omar)
    await tab1.close()  # one of two tabs closed: Omar is still online, nothing is sent
    await asyncio.sleep(0.3)
    assert len(watcher.named("presence:update")) == 2
    await tab2.close()
    updates = await watcher.wait_for("presence:update", count=3)
    assert updates[-1] == {"serverId": server_id, "onlineUserIds": [sara.id]}
