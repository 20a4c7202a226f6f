"""`x-socketio-exclude-sender`: the room hears the broadcast, the socket that caused it does not.

The spec marks which send operations skip the sender; `typing:update` is one ("every
socket of the room but the typist's gets it"). The typist's other tab is another socket of
the room, so it hears the update; the typist's own socket never does, on start or stop.
"""

from __future__ import annotations

import pytest

from conformance.spec import Contract
from tests.rules.conftest import Town

pytestmark = pytest.mark.anyio


def test_the_spec_marks_typing_update_and_only_it_as_skipping_the_sender(
    contract: Contract,
) -> None:
    # A new operation marked so needs its own test below: this fails until it has one.
    assert {e for e, op in contract.send.items() if op.exclude_sender} == {"typing:update"}


async def test_typing_update_reaches_the_room_but_not_the_typists_socket(town: Town) -> None:
    typist, reader = await town.person("typist"), await town.person("reader")
    place = await town.server(typist, reader)
    typing = await town.joined(typist, place)
    other_tab = await town.joined(typist, place)
    reading = await town.joined(reader, place)
    channel = {"channelId": place.channel_id}

    assert await typing.call("typing:start", channel) == {"ok": True, **channel}
    assert await typing.call("typing:stop", channel) == {"ok": True, **channel}

    expected = [
        {**channel, "userId": typist.id, "username": typist.username, "isTyping": True},
        {**channel, "userId": typist.id, "username": typist.username, "isTyping": False},
    ]
    assert await reading.wait_for("typing:update", count=2) == expected
    assert await other_tab.wait_for("typing:update", count=2) == expected
    await town.settle()
    assert typing.named("typing:update") == []
    assert len(reading.named("typing:update")) == 2
    town.assert_clean()


async def test_a_typist_alone_in_the_room_hears_nothing_of_its_own_typing(town: Town) -> None:
    typist = await town.person("typist")
    place = await town.server(typist)
    typing = await town.joined(typist, place)
    channel = {"channelId": place.channel_id}
    assert (await typing.call("typing:start", channel))["ok"] is True
    assert (await typing.call("typing:stop", channel))["ok"] is True
    await town.settle()
    assert typing.named("typing:update") == []
    town.assert_clean()
