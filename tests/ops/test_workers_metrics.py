"""`--workers 2` with metrics: one scrape adds up both workers (prometheus multiprocess mode)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import httpx
import pytest

from tests.ops.session import Samples, parse, value
from tests.support.clients import eventually
from tests.support.cluster import (
    Cluster,
    Node,
    People,
    Sockets,
    sockets_per_worker,
    spread,
    worker_pid,
    workers_cluster,
)
from tests.support.world import server_with

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Node]]:
    """One `serve --workers 2` with metrics on."""
    with workers_cluster(tmp_path_factory.mktemp("metrics"), ZIZANY_METRICS="true") as made:
        yield made


def scrape(node: Node) -> Samples:
    """One scrape; a new connection each time, so either worker may answer it."""
    with httpx.Client() as client:
        answer = client.get(f"{node.url}/metrics")
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


async def test_every_scrape_counts_the_sockets_and_events_of_both_workers(
    workers: tuple[Cluster, Node],
) -> None:
    made, node = workers
    people = People(node.url)
    sockets = Sockets()
    try:
        owner = await people.person("owner")
        server_id, channel_id = await server_with(owner)
        clients = await spread(made, node, sockets, owner, server_id, channel_id)
        per_worker = sockets_per_worker(made.prefix)
        assert all(per_worker.values()) and len(per_worker) == 2, per_worker

        # Whichever worker answers, the figures are the host's, not its own.
        for _ in range(6):
            samples = scrape(node)
            assert value(samples, "zizany_sockets_connected") == len(clients)
            joins = value(samples, "zizany_client_events_total", event="server:join", code="ok")
            assert joins == len(clients)
            assert value(samples, "zizany_ack_seconds_count", event="channel:join") == len(clients)

        # A worker killed without warning: its sockets no longer count, its events still do.
        on_w0 = per_worker["W/w0"]
        os.kill(worker_pid(node, 0), signal.SIGKILL)

        async def gone() -> bool:
            return value(scrape(node), "zizany_sockets_connected") == len(clients) - on_w0

        await eventually(gone, timeout=60, interval=0.5)
        samples = scrape(node)
        joins = value(samples, "zizany_client_events_total", event="server:join", code="ok")
        assert joins == len(clients)
    finally:
        await sockets.close()
        await people.aclose()
