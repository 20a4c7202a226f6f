"""A process killed with SIGKILL: its users go offline for the others within the bound.

These run with the default lease timing (15 s leases, refreshed every 5 s, swept every
5 s), so the measured time is the production one: at most 20 s plus the time to send
`presence:update`, within the contract's 45 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from service.realtime.scaleout.backplane import OFFLINE_BOUND_SECONDS
from tests.support.cluster import Cluster, Node, People, Sockets, cluster, cookie
from tests.support.world import server_with

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

DEFAULT_LEASE_SECONDS = 15.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Processes A and B with the default presence timing."""
    with cluster(tmp_path_factory.mktemp("sigkill")) as made:
        made.start("A", "B")
        yield made


@pytest.fixture
def a(pair: Cluster) -> Node:
    return pair.nodes["A"]


@pytest.fixture
def b(pair: Cluster) -> Node:
    node = pair.nodes["B"]
    if node.process is None or node.process.poll() is not None:
        node.start().wait_ready()
    return node


async def test_a_killed_process_takes_its_users_offline_for_the_others_within_the_bound(
    a: Node,
    b: Node,
    people: People,
    sockets: Sockets,
    record_property: Callable[[str, object], None],
) -> None:
    owner, only_b, both = [await people.person(name) for name in ("owner", "onlyb", "both")]
    server_id, _ = await server_with(owner, only_b, both)
    watcher = await sockets.joined(a, owner, server_id)
    await sockets.connect(b, cookie(only_b))
    await sockets.connect(b, cookie(both))
    await sockets.connect(a, cookie(both))
    everyone = sorted([owner.id, only_b.id, both.id])
    while (await watcher.wait_for("presence:update"))[-1]["onlineUserIds"] != everyone:
        await watcher.wait_for("presence:update", count=len(watcher.named("presence:update")) + 1)
    seen = len(watcher.named("presence:update"))

    killed_at = time.monotonic()
    b.kill()
    updates = await watcher.wait_for("presence:update", count=seen + 1, timeout=60)
    elapsed = time.monotonic() - killed_at
    record_property("offline_after_sigkill_seconds", round(elapsed, 1))
    print(f"\nSIGKILL → presence:update after {elapsed:.1f} s")

    # The user with a socket on A stays online; the one only on B went offline.
    assert updates[-1] == {"serverId": server_id, "onlineUserIds": sorted([owner.id, both.id])}
    assert elapsed <= OFFLINE_BOUND_SECONDS
    members = (await people.on(owner, a).get(f"/api/servers/{server_id}/members")).json()
    assert {m["user"]["id"]: m["online"] for m in members["members"]} == {
        owner.id: True,
        only_b.id: False,
        both.id: True,
    }


async def test_a_restarted_process_clears_the_leases_of_its_previous_life_at_once(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner, user = await people.person("owner"), await people.person("user")
    server_id, _ = await server_with(owner, user)
    watcher = await sockets.joined(a, owner, server_id)
    await sockets.connect(b, cookie(user))
    while user.id not in (await watcher.wait_for("presence:update"))[-1]["onlineUserIds"]:
        await watcher.wait_for("presence:update", count=len(watcher.named("presence:update")) + 1)
    seen = len(watcher.named("presence:update"))

    killed_at = time.monotonic()
    b.kill()
    b.start().wait_ready()  # same instance id "B": a new life of the same process
    restarted = time.monotonic() - killed_at
    updates = await watcher.wait_for("presence:update", count=seen + 1, timeout=5)
    elapsed = time.monotonic() - killed_at
    print(f"\nrestart took {restarted:.1f} s; presence:update after {elapsed:.1f} s")

    assert updates[-1]["onlineUserIds"] == [owner.id]
    assert "cleared the leases of a previous life of 'B'" in b.log
    if restarted < DEFAULT_LEASE_SECONDS - 5:
        # Well before the lease could have expired: the restart cleared it.
        assert elapsed < DEFAULT_LEASE_SECONDS
