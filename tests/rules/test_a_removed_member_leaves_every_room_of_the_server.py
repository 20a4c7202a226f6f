"""A member who leaves or is kicked is out of the server's rooms at once, on every socket.

`server:member_left` still reaches the removed user's sockets (that is how a client learns
it), then they are out of `server:{serverId}` and of every channel room of the server:
nothing said in the server reaches them any more, and typing there is refused as it is
for any socket outside the channel's room.
"""

from __future__ import annotations

import pytest

from tests.rules.conftest import Place, Town
from tests.support.clients import Person, expect

pytestmark = pytest.mark.anyio


async def remove(how: str, owner: Person, member: Person, place: Place) -> None:
    """Kick `member` (as the owner) or have them leave, over REST."""
    if how == "kicked":
        path = f"/api/servers/{place.server_id}/members/{member.id}"
        expect(await owner.http.delete(path), 204)
    else:
        expect(await member.http.delete(f"/api/servers/{place.server_id}/leave"), 204)


@pytest.mark.parametrize("how", ["kicked", "leaves"])
async def test_a_removed_members_sockets_hear_nothing_more_of_the_server(
    town: Town, how: str
) -> None:
    owner, member = await town.person("owner"), await town.person("member")
    place = await town.server(owner, member)
    second = await town.channel(owner, place, "second")
    speaker = await town.joined(owner, place)
    assert (await speaker.call("channel:join", {"channelId": second}))["ok"] is True
    everywhere = await town.joined(member, place)
    assert (await everywhere.call("channel:join", {"channelId": second}))["ok"] is True
    channel_only = await town.socket(member, name="channel-only socket")
    assert (await channel_only.call("channel:join", {"channelId": place.channel_id}))["ok"]
    removed = (everywhere, channel_only)

    await remove(how, owner, member, place)
    gone = {"serverId": place.server_id, "userId": member.id, "username": member.username}
    assert await everywhere.wait_for("server:member_left") == [gone]
    assert await speaker.wait_for("server:member_left") == [gone]
    await town.settle()
    before = {client.name: len(client.events) for client in removed}

    # Everything the server's rooms can carry, from REST and from a socket.
    for channel_id in (place.channel_id, second):
        await town.post(owner, channel_id, "after the removal")
        assert (await speaker.call("typing:start", {"channelId": channel_id}))["ok"] is True
    await town.channel(owner, place, "third")
    expect(await owner.http.patch(f"/api/servers/{place.server_id}", json={"name": "x"}), 200)
    await speaker.wait_for("message:new", count=2)
    await speaker.wait_for("server:updated")
    await town.settle()

    for client in removed:
        after = [name for name, _ in client.events[before[client.name] :]]
        assert set(after) <= {"channel:left"}, f"{client.name} still hears {after}"
    for client in removed:
        ack = await client.call("typing:start", {"channelId": place.channel_id})
        assert ack["ok"] is False and ack["code"] == "E_FORBIDDEN", ack
    town.assert_clean()


async def test_the_other_members_sockets_keep_their_rooms(town: Town) -> None:
    owner, member, stays = [await town.person(n) for n in ("owner", "member", "stays")]
    place = await town.server(owner, member, stays)
    await town.joined(member, place)
    staying = await town.joined(stays, place)
    await remove("kicked", owner, member, place)
    await staying.wait_for("server:member_left")
    message = await town.post(owner, place.channel_id, "still here?")
    assert (await staying.wait_for("message:new"))[0]["id"] == message["id"]
    town.assert_clean()
