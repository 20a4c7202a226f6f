"""A user flapping online and offline: at most one `presence:update` per server per interval.

The watcher sits in the server room and records when each `presence:update` arrives while
another member connects and disconnects as fast as a real client can. The updates are at
least the presence interval apart, and the last one shows the state after the last change
(offline when the flapping ends offline, online when it ends online).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from conformance.target import LocalTarget
from tests.rules.conftest import Town

pytestmark = pytest.mark.anyio

INTERVAL = 1.0
FLAPS = 12


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTarget]:
    server = LocalTarget(
        tmp_path_factory.mktemp("presence"), presence_interval_seconds=INTERVAL
    ).start()
    try:
        yield server
    finally:
        server.stop()


async def test_flapping_gives_one_update_per_interval_and_the_last_shows_the_final_state(
    town: Town,
) -> None:
    watcher, flapper = await town.person("watcher"), await town.person("flapper")
    place = await town.server(watcher, flapper)
    watching = await town.joined(watcher, place, channel=False)
    arrivals: list[tuple[float, Any]] = []

    async def record(data: Any) -> None:
        if data.get("serverId") == place.server_id:
            arrivals.append((time.monotonic(), data["onlineUserIds"]))

    watching.sio.on("presence:update", handler=record)
    for end_online in (False, True):
        arrivals.clear()
        started = time.monotonic()
        for number in range(FLAPS):
            client = await town.socket(flapper)
            if end_online and number == FLAPS - 1:
                break
            await client.close()
        flapping = time.monotonic() - started
        await anyio.sleep(INTERVAL + 0.5)
        times = [t for t, _ in arrivals]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= INTERVAL * 0.9 for gap in gaps), (gaps, flapping)
        assert 1 <= len(arrivals) <= int(flapping / INTERVAL) + 2, (len(arrivals), flapping)
        assert (flapper.id in arrivals[-1][1]) is end_online, arrivals[-1]
        assert watcher.id in arrivals[-1][1]
