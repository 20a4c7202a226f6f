"""Lost access ends delivery at once: leave/kick, server and channel delete, logout.

Each test changes the database and then calls the Notifier method the REST route calls
after its commit, on the server's own loop.
"""

from __future__ import annotations

import asyncio

import pytest

from service.auth.logins import end_login, unsign_login_id
from service.db import channels, memberships, servers
from tests.support.clients import RecordingClient
from tests.support.seeded import SECRET, User, World

pytestmark = pytest.mark.anyio


async def joined(world: World, user: User, server_id: int, channel_id: int) -> RecordingClient:
    c = await world.connect(user)
    await c.call("server:join", {"serverId": server_id})
    await c.call("channel:join", {"channelId": channel_id})
    return c


async def owner_and_member_in_channel(
    world: World,
) -> tuple[int, int, RecordingClient, RecordingClient]:
    """A server of Sara's with Omar in it: its id, its channel, and both in its rooms."""
    sara, omar = await world.user("Sara"), await world.user("Omar")
    server_id, channel_id = await world.server(sara, omar)
    owner = await joined(world, sara, server_id, channel_id)
    return server_id, channel_id, owner, await joined(world, omar, server_id, channel_id)


async def broadcast_after(
    world: World, speaker: RecordingClient, server_id: int, channel_id: int
) -> None:
    """Events on both rooms after the revocation: a message, typing and a presence change."""
    await speaker.call("message:create", {"channelId": channel_id, "content": "after"})
    await speaker.call("typing:start", {"channelId": channel_id})
    world.call(world.rt.announcer.announce_presence(server_id))
    await asyncio.sleep(0.3)


async def test_after_a_kick_no_further_event_reaches_the_removed_users_sockets(
    world: World,
) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    server_id, channel_id = await world.server(sara, omar)
    owner = await joined(world, sara, server_id, channel_id)
    tab1, tab2 = (
        await joined(world, omar, server_id, channel_id),
        await joined(world, omar, server_id, channel_id),
    )
    await asyncio.sleep(0.2)
    seen = len(owner.named("presence:update"))
    async with world.sessionmaker() as s:
        await memberships.remove_member(session=s, server_id=server_id, user_id=omar.id)
        await s.commit()
    world.call(
        world.rt.broadcaster.member_left(server_id=server_id, user_id=omar.id, username="Omar")
    )
    left = await owner.wait_for("server:member_left")
    assert left == [{"serverId": server_id, "userId": omar.id, "username": "Omar"}]
    presence = await owner.wait_for("presence:update", count=seen + 1)
    assert presence[-1]["onlineUserIds"] == [sara.id]
    for tab in (tab1, tab2):
        tab.events.clear()
    await broadcast_after(world, owner, server_id, channel_id)
    assert tab1.events == [] and tab2.events == []
    # and they cannot rejoin: to a non-member, the private server's channel is missing
    ack = await tab1.call("channel:join", {"channelId": channel_id})
    assert ack["code"] == "E_CHANNEL_NOT_FOUND"


async def test_after_a_server_delete_no_event_reaches_any_socket_of_its_rooms(
    world: World,
) -> None:
    server_id, channel_id, owner, member = await owner_and_member_in_channel(world)
    async with world.sessionmaker() as s:
        channel_ids = await servers.delete_server(session=s, server_id=server_id)
        await s.commit()
    world.call(world.rt.broadcaster.server_deleted(server_id=server_id, channel_ids=channel_ids))
    assert await member.wait_for("server:deleted") == [{"serverId": server_id}]
    member.events.clear()
    owner.events.clear()
    world.call(world.rt.announcer.announce_presence(server_id))
    await owner.emit("typing:start", {"channelId": channel_id})
    await asyncio.sleep(0.3)
    assert member.named("presence:update") == [] and member.named("typing:update") == []
    assert owner.named("error:permission")  # no longer in the channel room


async def test_after_a_channel_delete_its_room_is_empty(world: World) -> None:
    server_id, channel_id, owner, member = await owner_and_member_in_channel(world)
    async with world.sessionmaker() as s:
        await channels.delete_channel(session=s, channel_id=channel_id)
        await s.commit()
    world.call(world.rt.broadcaster.channel_deleted(channel_id=channel_id, server_id=server_id))
    assert await member.wait_for("channel:deleted") == [
        {"channelId": channel_id, "serverId": server_id}
    ]
    ack = await owner.call("typing:start", {"channelId": channel_id})
    assert ack["code"] == "E_FORBIDDEN"
    await asyncio.sleep(0.2)
    assert member.named("typing:update") == []


async def test_logout_disconnects_the_sockets_of_that_session_only(world: World) -> None:
    sara = await world.user("Sara")
    other_session = await world.user("Omar")
    laptop, phone = await world.connect(sara), await world.connect(sara)
    elsewhere = await world.connect(other_session)
    login_id = unsign_login_id(SECRET, sara.cookie)
    assert login_id is not None
    async with world.sessionmaker() as s:
        await end_login(session=s, login_id=login_id)
        await s.commit()
    world.call(world.rt.broadcaster.login_ended(login_id))
    for _ in range(50):
        if not laptop.sio.connected and not phone.sio.connected:
            break
        await asyncio.sleep(0.05)
    assert not laptop.sio.connected and not phone.sio.connected
    assert elsewhere.sio.connected
    again = RecordingClient()
    with pytest.raises(Exception, match="namespace"):
        await again.connect(world.live.url, headers=sara.headers)
    assert again.connect_error == {"message": "E_UNAUTHORIZED"}
