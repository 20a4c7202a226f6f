"""Whatever reaches a socket is an event the spec declares, with a payload valid against it.

A tour through every operation of the product (socket and REST) with watched sockets in
every room. The sockets listen with a catch-all handler, so an event sent past the typed
emitter (a raw `sio.emit` of an undeclared name or an off-spec payload) is seen like any
other; every ack is checked against its reply schema; and the tour must have made every
server → client event of the spec arrive somewhere (error events included, but for the
rate limit, which has its own test, and `E_INTERNAL`, which must never arrive).

It runs twice: as the service runs by default (each emit validated against the spec before
it leaves, strictly: an off-spec emit fails its operation), and with that validation off,
so that what the code itself sends is judged without the safety net.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.spec import Contract
from conformance.target import LocalTarget
from tests.rules.conftest import NO_SUCH_CHANNEL, Town
from tests.rules.observe import Watched
from tests.support.clients import expect

pytestmark = pytest.mark.anyio

MODES: dict[str, dict[str, Any]] = {
    "emits-validated": {},
    "emits-unvalidated": {"validate_emits": False, "strict_emits": False},
}
NOT_IN_THE_TOUR = frozenset({"error:rate_limited", "error:internal"})


@pytest.fixture(scope="module", params=sorted(MODES))
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalTarget]:
    """The real app, with emit validation as the mode says."""
    server = LocalTarget(tmp_path_factory.mktemp("tour"), **MODES[request.param]).start()
    try:
        yield server
    finally:
        server.stop()


async def ok(client: Watched, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    ack: dict[str, Any] = await client.call(event, payload)
    assert ack.get("ok") is True, f"{event} {payload}: {ack}"
    return ack


async def test_a_tour_of_every_operation_delivers_only_declared_valid_events(
    town: Town, contract: Contract
) -> None:
    owner, member, newcomer = [await town.person(n) for n in ("owner", "member", "newcomer")]
    place = await town.server(owner, member, public=True)
    sid, cid = place.server_id, place.channel_id
    a = await town.joined(owner, place)
    b = await town.joined(member, place)
    watcher = await town.joined(owner, place)  # the owner's second tab: hears the typing

    # Membership and the server, over REST.
    expect(await newcomer.http.post(f"/api/servers/{sid}/join", json={}), 201)
    await a.wait_for("server:member_joined")
    path = f"/api/servers/{sid}/members/{member.id}"
    expect(await owner.http.patch(path, json={"role": "admin"}), 200)
    expect(await owner.http.patch(f"/api/servers/{sid}", json={"name": "toured"}), 200)
    extra = await town.channel(owner, place, "extra")
    await ok(b, "channel:join", {"channelId": extra})
    expect(await owner.http.patch(f"/api/channels/{extra}", json={"name": "renamed"}), 200)
    expect(await owner.http.delete(f"/api/channels/{extra}"), 204)
    for event in ("server:member_updated", "server:updated", "channel:created"):
        await a.wait_for(event)
    await b.wait_for("channel:deleted")

    # Typing and messages, over the socket.
    await ok(a, "typing:start", {"channelId": cid})
    await ok(a, "typing:stop", {"channelId": cid})
    created = await ok(a, "message:create", {"channelId": cid, "content": " tour "})
    message_id = created["message"]["id"]
    await ok(a, "message:update", {"messageId": message_id, "content": "toured"})
    await ok(b, "message:delete", {"messageId": message_id})  # an admin may
    await b.wait_for("typing:update", count=2)
    await watcher.wait_for("typing:update", count=2)
    for event in ("message:new", "message:updated", "message:deleted"):
        await b.wait_for(event)

    # Refusals, one of each kind.
    refusals = [
        ("channel:join", {"channelId": NO_SUCH_CHANNEL}),
        ("typing:start", {"channelId": extra}),
        ("message:create", {"channelId": cid}),
    ]
    for event, payload in refusals:
        assert (await b.call(event, payload))["ok"] is False

    # Leaving rooms, a kick, and the end of the server.
    await ok(b, "channel:leave", {"channelId": cid})
    await ok(b, "server:leave", {"serverId": sid})
    expect(await owner.http.delete(f"/api/servers/{sid}/members/{newcomer.id}"), 204)
    await a.wait_for("server:member_left")
    expect(await owner.http.delete(f"/api/servers/{sid}"), 204)
    await a.wait_for("server:deleted")
    await town.settle()

    received = {name for client in town.sockets for name, _ in client.events}
    assert set(contract.send) - NOT_IN_THE_TOUR <= received, sorted(
        set(contract.send) - NOT_IN_THE_TOUR - received
    )
    town.assert_clean()
