"""`serve(..., workers=N)` (what `zizany serve --workers N` runs): N processes, one port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis as sync_redis

from tests.api.support import Person
from tests.clients import RecordingClient
from tests.scaleout.cluster import (
    FAST_PRESENCE,
    ROOT,
    Cluster,
    Node,
    People,
    Sockets,
    cluster,
    cookie,
    eventually,
    free_port,
    join,
)
from tests.scaleout.redis_env import REDIS_URL
from tests.scaleout.test_cluster import server_with

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Node]]:
    """One `serve` with two workers on one port."""
    with cluster(tmp_path_factory.mktemp("workers"), **FAST_PRESENCE) as made:
        node = made.node("W", workers=2)
        made.start("W")
        yield made, node


@pytest.fixture
async def people(workers: tuple[Cluster, Node]) -> AsyncIterator[People]:
    made = People(workers[1].url)
    try:
        yield made
    finally:
        await made.aclose()


def sockets_per_worker(prefix: str) -> dict[str, int]:
    """Live leases per worker identity, read from Redis."""
    client = sync_redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return {
            key.split(":presence:process:", 1)[1]: int(client.scard(key))
            for key in client.scan_iter(match=f"{prefix}:presence:process:*")
        }
    finally:
        client.close()


def worker_pid(node: Node, index: int) -> int:
    """The pid of the node's current worker `index`, from the supervisor's log."""
    found = re.findall(rf"worker {index} started \(pid (\d+)\)", node.log)
    assert found, node.log
    return int(found[-1])


async def spread(
    made: Cluster, node: Node, sockets: Sockets, person: Person, server_id: int, channel_id: int
) -> list[RecordingClient]:
    """Connect until both workers hold sockets (the kernel picks the worker).

    Connections go in concurrent batches: one at a time, the kernel tends to wake the same
    idle worker for every accept, and a sequence of 40 has landed on one worker only.
    """

    async def one() -> RecordingClient:
        client = await sockets.connect(node, cookie(person))
        await join(client, server_id, channel_id)
        return client

    clients: list[RecordingClient] = []
    for _ in range(15):
        clients += await asyncio.gather(*(one() for _ in range(6)))
        counts = sockets_per_worker(made.prefix)
        if sorted(k for k, v in counts.items() if v) == ["W/w0", "W/w1"]:
            return clients
    raise AssertionError(f"the connections did not spread: {sockets_per_worker(made.prefix)}")


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
        [sys.executable, "-m", "tests.scaleout.launcher", str(free_port()), "2"],
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
