"""A room event goes to the room the spec gives its operation, and to no socket outside it.

The rooms come from spec/asyncapi.yaml: each send operation's channel is a room
(`server:{serverId}`, `channel:{channelId}`), and the payload names which one. A socket in
the server's room but not the channel's must not hear the channel's messages; a socket in
a channel's room but not the server's must not hear the server's news.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conformance.spec import Contract
from tests.rules.conftest import Place, Town
from tests.rules.observe import Watched
from tests.support.clients import Person, expect

pytestmark = pytest.mark.anyio


@dataclass
class Apart:
    """A place; its owner with a socket in both rooms; a member with three sockets:
    one in the channel's room only, one in the server's room only, one in neither."""

    place: Place
    owner: Person
    sender: Watched
    in_channel: Watched
    in_server: Watched
    idle: Watched


async def rooms_apart(town: Town) -> Apart:
    owner, member = await town.person("owner"), await town.person("member")
    place = await town.server(owner, member)
    sender = await town.joined(owner, place)
    in_channel = await town.socket(member, name="channel-only socket")
    assert (await in_channel.call("channel:join", {"channelId": place.channel_id}))["ok"]
    in_server = await town.socket(member, name="server-only socket")
    assert (await in_server.call("server:join", {"serverId": place.server_id}))["ok"]
    idle = await town.socket(member, name="socket in no room")
    return Apart(place, owner, sender, in_channel, in_server, idle)


def heard(client: Watched, *prefixes: str) -> list[str]:
    """The names of the events this socket received that start with one of `prefixes`."""
    return [name for name, _ in client.events if name.startswith(prefixes)]


def test_the_spec_puts_message_events_in_the_channel_room_and_news_in_the_server_room(
    contract: Contract,
) -> None:
    rooms = {event: op.room.address if op.room else None for event, op in contract.send.items()}
    for event in ("message:new", "message:updated", "message:deleted", "typing:update"):
        assert rooms[event] == "channel:{channelId}", event
    for event in ("channel:created", "server:updated", "presence:update"):
        assert rooms[event] == "server:{serverId}", event


async def message_events_reached_the_channel_room_only(town: Town, s: Apart) -> None:
    """Once each to the sockets in the channel room, nothing to those outside it."""
    for event in ("message:new", "message:updated", "message:deleted"):
        assert len(await s.in_channel.wait_for(event)) == 1, event
        assert len(await s.sender.wait_for(event)) == 1, event
    await town.settle()
    for outside in (s.in_server, s.idle):
        assert heard(outside, "message:") == [], outside.name
    town.assert_clean()


async def test_messages_sent_over_a_socket_reach_the_channel_room_only(town: Town) -> None:
    s = await rooms_apart(town)
    created = await s.sender.call(
        "message:create", {"channelId": s.place.channel_id, "content": "hello"}
    )
    assert created["ok"] is True
    message_id = created["message"]["id"]
    edit = {"messageId": message_id, "content": "hello again"}
    assert (await s.sender.call("message:update", edit))["ok"] is True
    assert (await s.sender.call("message:delete", {"messageId": message_id}))["ok"] is True

    await message_events_reached_the_channel_room_only(town, s)


async def test_messages_made_over_rest_reach_the_channel_room_only(town: Town) -> None:
    s = await rooms_apart(town)
    message = await town.post(s.owner, s.place.channel_id, "from rest")
    path = f"/api/channels/{s.place.channel_id}/messages/{message['id']}"
    expect(await s.owner.http.patch(path, json={"content": "edited"}), 200)
    expect(await s.owner.http.delete(path), 204)

    await message_events_reached_the_channel_room_only(town, s)


async def test_server_news_reaches_the_server_room_only(town: Town) -> None:
    s = await rooms_apart(town)
    await town.channel(s.owner, s.place, "random")
    path = f"/api/servers/{s.place.server_id}"
    expect(await s.owner.http.patch(path, json={"name": "renamed"}), 200)

    for event in ("channel:created", "server:updated"):
        assert len(await s.in_server.wait_for(event)) == 1, event
        assert len(await s.sender.wait_for(event)) == 1, event
    await town.settle()
    for outside in (s.in_channel, s.idle):
        news = heard(outside, "server:", "channel:created", "channel:updated", "presence:")
        assert news == [], outside.name
    town.assert_clean()
