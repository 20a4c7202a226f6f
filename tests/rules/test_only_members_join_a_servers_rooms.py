"""Only a member of a server gets into its rooms: `server:join` and `channel:join` check it.

A signed-in user who is not a member (of a public or a private server), or who was one
and left, is refused with an error its operation declares; the refused socket is in no
room of the server, so nothing said there reaches it. Which code a non-member of a
private server gets (not found or forbidden) is the spec's to decide: the test accepts
any refusal the operation lists, and nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.spec import Contract
from tests.rules.conftest import Place, Town
from tests.rules.observe import Watched
from tests.support.clients import Person, expect

pytestmark = pytest.mark.anyio

NOT_REFUSALS = frozenset({"E_VALIDATION", "E_INTERNAL", "E_RATE_LIMITED"})


def refused(contract: Contract, event: str, ack: Any) -> None:
    """A failed ack with a refusal code the operation declares."""
    allowed = contract.receive[event].errors - NOT_REFUSALS
    assert ack["ok"] is False, f"{event} let a non-member in: {ack}"
    assert ack["code"] in allowed, f"{event}: {ack['code']} not among {sorted(allowed)}"


async def knock(contract: Contract, client: Watched, place: Place) -> None:
    """Try both joins; both must be refused, with no `*:joined` answer."""
    ack = await client.call("server:join", {"serverId": place.server_id})
    refused(contract, "server:join", ack)
    ack = await client.call("channel:join", {"channelId": place.channel_id})
    refused(contract, "channel:join", ack)
    assert client.named("server:joined") == [] and client.named("channel:joined") == []


async def speak(town: Town, owner: Person, place: Place, speaker: Watched) -> None:
    """Say everything the server's rooms carry; wait until the owner's socket heard it."""
    await town.post(owner, place.channel_id, "members only")
    assert (await speaker.call("typing:start", {"channelId": place.channel_id}))["ok"] is True
    expect(await owner.http.patch(f"/api/servers/{place.server_id}", json={"name": "y"}), 200)
    await speaker.wait_for("server:updated")
    await town.settle()


@pytest.mark.parametrize("public", [True, False], ids=["public", "private"])
async def test_a_non_member_cannot_join_the_rooms_of_a_server(
    town: Town, contract: Contract, public: bool
) -> None:
    owner, outsider = await town.person("owner"), await town.person("outsider")
    place = await town.server(owner, public=public)
    speaker = await town.joined(owner, place)
    knocking = await town.socket(outsider)
    await knock(contract, knocking, place)
    await speak(town, owner, place, speaker)
    heard = [name for name, _ in knocking.events if not name.startswith("error:")]
    assert heard == ["channel:left"], heard  # the settle request's own answer, nothing else
    town.assert_clean()


async def test_a_former_member_cannot_join_again(town: Town, contract: Contract) -> None:
    owner, member = await town.person("owner"), await town.person("member")
    place = await town.server(owner, member)
    speaker = await town.joined(owner, place)
    expect(await member.http.delete(f"/api/servers/{place.server_id}/leave"), 204)
    knocking = await town.socket(member)
    await knock(contract, knocking, place)
    await speak(town, owner, place, speaker)
    heard = [name for name, _ in knocking.events if not name.startswith("error:")]
    assert heard == ["channel:left"], heard
    town.assert_clean()


async def test_a_member_joins_both_rooms_and_hears_them(town: Town) -> None:
    owner, member = await town.person("owner"), await town.person("member")
    place = await town.server(owner, member, public=False)
    listening = await town.joined(member, place)
    assert listening.named("server:joined") == [{"serverId": place.server_id}]
    assert listening.named("channel:joined") == [{"channelId": place.channel_id}]
    await town.post(owner, place.channel_id, "welcome")
    assert len(await listening.wait_for("message:new")) == 1
    town.assert_clean()
