"""Every client event has the limit its operation declares in `x-rate-limit`.

The live server runs with small values for every counter (the settings that override the
spec's defaults): each event is let through up to the limit, refused past it with the
failed ack and `error:rate_limited` (naming the event, with `retryAfterMs`), counted per
the declared key (another channel or server is a separate count), and let through again
once the window has passed. Typing toggles past the limit reach nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.spec import Contract
from conformance.target import LocalTarget
from tests.rules.conftest import Place, Town
from tests.rules.observe import Watched

pytestmark = pytest.mark.anyio

LIMIT = 3
WINDOW = 1.0
RATE_LIMITED = "E_RATE_LIMITED"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, contract: Contract) -> Iterator[LocalTarget]:
    """The real app with every counter of the spec at 3 events per second."""
    counters = {op.rate_limit.counter for op in contract.receive.values() if op.rate_limit}
    server = LocalTarget(
        tmp_path_factory.mktemp("limits"),
        rate_limits={c: {"limit": LIMIT, "window_seconds": WINDOW} for c in counters},
        message_rate_limit=LIMIT,
        message_rate_window_seconds=WINDOW,
    ).start()
    try:
        yield server
    finally:
        server.stop()


# Each event's payload in a place, and the same event keyed elsewhere (another channel or
# server: a separate count when the limit is per that field, the same count otherwise).
Payload = Callable[[Place, Place], tuple[dict[str, Any], dict[str, Any]]]
PAYLOADS: dict[str, Payload] = {
    "server:join": lambda p, q: ({"serverId": p.server_id}, {"serverId": q.server_id}),
    "server:leave": lambda p, q: ({"serverId": p.server_id}, {"serverId": q.server_id}),
    "channel:join": lambda p, q: ({"channelId": p.channel_id}, {"channelId": q.channel_id}),
    "channel:leave": lambda p, q: ({"channelId": p.channel_id}, {"channelId": q.channel_id}),
    "typing:start": lambda p, q: ({"channelId": p.channel_id}, {"channelId": q.channel_id}),
    "typing:stop": lambda p, q: ({"channelId": p.channel_id}, {"channelId": q.channel_id}),
    "message:create": lambda p, q: (
        {"channelId": p.channel_id, "content": "hi"},
        {"channelId": q.channel_id, "content": "hi"},
    ),
    "message:update": lambda p, q: (
        {"messageId": 1, "content": "x"},
        {"messageId": 1, "content": "x"},
    ),
    "message:delete": lambda p, q: ({"messageId": 2_147_483_647}, {"messageId": 2_147_483_646}),
}


def test_every_receive_operation_declares_a_limit_and_has_a_case(contract: Contract) -> None:
    assert set(PAYLOADS) == set(contract.receive)
    for event, op in contract.receive.items():
        assert op.rate_limit is not None, event
        assert RATE_LIMITED in op.errors, event


async def in_rooms(town: Town, place: Place, other: Place, client: Watched) -> None:
    for p in (place, other):
        assert (await client.call("server:join", {"serverId": p.server_id}))["ok"] is True
        assert (await client.call("channel:join", {"channelId": p.channel_id}))["ok"] is True


@pytest.mark.parametrize("event", sorted(PAYLOADS))
async def test_an_event_past_its_limit_is_refused_and_let_through_again_after_the_window(
    town: Town, contract: Contract, event: str
) -> None:
    limit = contract.receive[event].rate_limit
    assert limit is not None
    owner = await town.person("owner")
    place = await town.server(owner)
    other = await town.server(owner)
    client = await town.socket(owner)
    await in_rooms(town, place, other, client)
    await asyncio.sleep(WINDOW)  # the joins above counted against the room counters
    payload, elsewhere = PAYLOADS[event](place, other)
    for _ in range(LIMIT):
        ack = await client.call(event, payload)
        assert ack.get("code") != RATE_LIMITED, ack
    refused = await client.call(event, payload)
    assert refused["ok"] is False and refused["code"] == RATE_LIMITED, refused
    assert 0 < refused["retryAfterMs"] <= WINDOW * 1000, refused
    error = (await client.wait_for("error:rate_limited"))[-1]
    assert error["event"] == event and error["retryAfterMs"] > 0, error
    # Another key of a per-field limit is a count of its own; of a per-user one, the same.
    separate = any(p != "user" for p in limit.per)
    other_ack = await client.call(event, elsewhere)
    assert (other_ack.get("code") == RATE_LIMITED) is not separate, other_ack
    await asyncio.sleep(refused["retryAfterMs"] / 1000 + 0.05)
    again = await client.call(event, payload)
    assert again.get("code") != RATE_LIMITED, again
    assert client.sio.connected


async def test_typing_toggles_past_the_limit_reach_no_one(town: Town) -> None:
    typist, watcher = await town.person("typist"), await town.person("watcher")
    place = await town.server(typist, watcher)
    typing = await town.joined(typist, place)
    watching = await town.joined(watcher, place)
    answers = []
    for number in range(40):
        event = "typing:start" if number % 2 == 0 else "typing:stop"
        answers.append((await typing.call(event, {"channelId": place.channel_id})).get("code"))
    await town.settle(watching)
    updates = [e for e in watching.events if e[0] == "typing:update"]
    assert answers.count(None) == LIMIT and answers.count(RATE_LIMITED) == 40 - LIMIT
    assert len(updates) == LIMIT, updates
