"""`serve(..., workers=N)` (what `zizany serve --workers N` runs): N processes, one port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.clients import eventually
from tests.support.cluster import (
    Cluster,
    Node,
    People,
    Sockets,
    spread,
    worker_pid,
    workers_cluster,
)
from tests.support.live import free_port
from tests.support.paths import ROOT
from tests.support.world import server_with

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Node]]:
    """One `serve` with two workers on one port."""
    with workers_cluster(tmp_path_factory.mktemp("workers")) as made:
        yield made


@pytest.fixture
async def people(workers: tuple[Cluster, Node]) -> AsyncIterator[People]:
    async with People(workers[1].url) as made:
        yield made


async def test_the_workers_share_one_port_and_broadcasts_reach_every_worker(
    workers: tuple[Cluster, Node], people: People, sockets: Sockets
) -> None:
    made, node = workers
    owner = await people.person("owner")
    server_id, channel_id = await server_with(owner)
    clients = await spread(made, node, sockets, owner, server_id, channel_id)

    ack = await clients[0].call("message:create", {"channelId": channel_id, "content": "hi all"})
    for client in clients:
        assert (await client.wait_for("message:new"))[-1] == ack["message"]


async def test_a_killed_worker_is_restarted_under_its_identity(
    workers: tuple[Cluster, Node], people: People, sockets: Sockets
) -> None:
    made, node = workers
    owner = await people.person("owner")
    server_id, channel_id = await server_with(owner)
    await spread(made, node, sockets, owner, server_id, channel_id)
    killed = worker_pid(node, 0)

    os.kill(killed, signal.SIGKILL)

    async def restarted() -> bool:
        return worker_pid(node, 0) != killed and node.log.count("on Redis as 'W/w0'") == 2

    await eventually(restarted, timeout=60, interval=0.2)
    assert re.search(r"worker 0 \(pid \d+\) exited with -9", node.log)
    # The new worker 0 serves: its sockets get broadcasts like the others.
    clients = await spread(made, node, sockets, owner, server_id, channel_id)
    ack = await clients[-1].call("message:create", {"channelId": channel_id, "content": "again"})
    for client in clients:
        assert (await client.wait_for("message:new"))[-1] == ack["message"]


def test_several_workers_need_redis(tmp_path: object) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZIZANY_")}
    env["ZIZANY_DATA_DIR"] = str(tmp_path)
    begun = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.launcher", str(free_port()), "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--workers needs ZIZANY_REDIS_URL" in done.stderr
    assert time.monotonic() - begun < 60
