"""Every refusal a socket gets is one its operation declares, on the event the spec gives it.

Each receive operation lists in `x-errors` the codes it can answer. Here each declared
(operation, code) pair but `E_INTERNAL` is provoked once, black-box, and the answer must be
exactly that code: in the failed ack, and in the one error event that the spec assigns to
the code, naming the operation. A code the spec does not list for the operation must never
reach the client (the router turns it into `E_INTERNAL`, which the watched sockets flag:
these tests inject no fault). The table below must cover every declared pair, so a new
code in the spec fails here until it has a case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.spec import Contract
from conformance.target import LocalTarget
from service.limits import configured_limits
from tests.rules.conftest import NO_SUCH_CHANNEL, Place, Town
from tests.rules.observe import INTERNAL, Watched
from tests.support.clients import Person

pytestmark = pytest.mark.anyio

NO_SUCH_MESSAGE = 2_147_483_647


@dataclass
class Scene:
    """A public server with a message by its owner; a member; an outsider."""

    town: Town
    target: LocalTarget
    owner: Person
    member: Person
    outsider: Person
    place: Place
    owners_message: int

    async def socket(self, person: Person) -> Watched:
        return await self.town.socket(person)


async def scene(town: Town, target: LocalTarget) -> Scene:
    owner, member, outsider = [await town.person(n) for n in ("owner", "member", "outsider")]
    place = await town.server(owner, member, public=True)
    message = await town.post(owner, place.channel_id, "the owner's")
    return Scene(town, target, owner, member, outsider, place, message["id"])


Provoke = Callable[[Scene], Awaitable[tuple[Watched, dict[str, Any]]]]


async def as_outsider_join_server(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.outsider), {"serverId": s.place.server_id}


async def as_outsider_in_channel(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.outsider), {"channelId": s.place.channel_id}


async def as_outsider_post(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.outsider), {"channelId": s.place.channel_id, "content": "hi"}


async def missing_channel(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.member), {"channelId": NO_SUCH_CHANNEL}


async def post_to_missing_channel(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.member), {"channelId": NO_SUCH_CHANNEL, "content": "hi"}


async def member_outside_the_room(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.member), {"channelId": s.place.channel_id}


async def edit_missing_message(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.member), {"messageId": NO_SUCH_MESSAGE, "content": "x"}


async def delete_missing_message(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.member), {"messageId": NO_SUCH_MESSAGE}


async def member_edits_the_owners_message(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.member), {"messageId": s.owners_message, "content": "mine now"}


async def member_deletes_the_owners_message(s: Scene) -> tuple[Watched, dict[str, Any]]:
    return await s.socket(s.member), {"messageId": s.owners_message}


async def flood(s: Scene) -> tuple[Watched, dict[str, Any]]:
    """A member's socket that has used up its message allowance in the channel."""
    client = await s.socket(s.member)
    payload = {"channelId": s.place.channel_id, "content": "again"}
    for _ in range(s.target.settings.message_rate_limit):
        assert (await client.call("message:create", payload))["ok"] is True
    return client, payload


# A payload of each event that the member may send (answered or refused, it is counted).
FLOOD_PAYLOADS: dict[str, Callable[[Scene], dict[str, Any]]] = {
    "server:join": lambda s: {"serverId": s.place.server_id},
    "server:leave": lambda s: {"serverId": s.place.server_id},
    "channel:join": lambda s: {"channelId": s.place.channel_id},
    "channel:leave": lambda s: {"channelId": s.place.channel_id},
    "typing:start": lambda s: {"channelId": s.place.channel_id},
    "typing:stop": lambda s: {"channelId": s.place.channel_id},
    "message:update": lambda s: {"messageId": s.owners_message, "content": "mine now"},
    "message:delete": lambda s: {"messageId": s.owners_message},
}


def flood_of(event: str) -> Provoke:
    """A member's socket that has used up the event's allowance (its configured limit)."""

    async def provoke(s: Scene) -> tuple[Watched, dict[str, Any]]:
        client = await s.socket(s.member)
        payload = FLOOD_PAYLOADS[event](s)
        for _ in range(configured_limits(s.target.settings)[event].limit):
            ack = await client.call(event, payload)
            assert ack.get("code") != "E_RATE_LIMITED", ack
        return client, payload

    return provoke


CASES: dict[tuple[str, str], Provoke] = {
    **{(event, "E_RATE_LIMITED"): flood_of(event) for event in FLOOD_PAYLOADS},
    ("server:join", "E_FORBIDDEN"): as_outsider_join_server,
    ("channel:join", "E_CHANNEL_NOT_FOUND"): missing_channel,
    ("channel:join", "E_FORBIDDEN"): as_outsider_in_channel,
    ("typing:start", "E_FORBIDDEN"): member_outside_the_room,
    ("typing:stop", "E_FORBIDDEN"): member_outside_the_room,
    ("message:create", "E_CHANNEL_NOT_FOUND"): post_to_missing_channel,
    ("message:create", "E_FORBIDDEN"): as_outsider_post,
    ("message:create", "E_RATE_LIMITED"): flood,
    ("message:update", "E_MESSAGE_NOT_FOUND"): edit_missing_message,
    ("message:update", "E_FORBIDDEN"): member_edits_the_owners_message,
    ("message:delete", "E_MESSAGE_NOT_FOUND"): delete_missing_message,
    ("message:delete", "E_FORBIDDEN"): member_deletes_the_owners_message,
}


def test_every_declared_code_but_internal_and_validation_has_a_case(contract: Contract) -> None:
    declared = {
        (event, code)
        for event, op in contract.receive.items()
        for code in op.errors
        if code not in {INTERNAL, contract.validation_code}
    }
    assert declared == set(CASES)


@pytest.mark.parametrize(("event", "code"), sorted(CASES), ids=lambda v: str(v))
async def test_a_refused_operation_answers_its_declared_code_and_error_event(
    town: Town, target: LocalTarget, contract: Contract, event: str, code: str
) -> None:
    client, payload = await CASES[event, code](await scene(town, target))
    ack = await client.call(event, payload)
    assert ack["ok"] is False and ack["code"] == code, ack
    carrier = contract.error_event_for(code)
    assert carrier is not None
    error = (await client.wait_for(carrier))[-1]
    assert error["code"] == code and error["event"] == event, error
    assert client.sio.connected
    town.assert_clean()


async def test_every_operation_refuses_an_invalid_payload_with_the_validation_code(
    town: Town, contract: Contract
) -> None:
    person = await town.person("sender")
    client = await town.socket(person)
    carrier = contract.error_event_for(contract.validation_code)
    assert carrier is not None
    for count, event in enumerate(sorted(contract.receive), start=1):
        ack = await client.call(event, {"unknown": True})
        assert ack["ok"] is False and ack["code"] == contract.validation_code, (event, ack)
        errors = await client.wait_for(carrier, count=count)
        assert errors[-1]["event"] == event and errors[-1]["details"], errors[-1]
    assert client.sio.connected
    town.assert_clean()
