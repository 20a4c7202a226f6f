"""Redis and PostgreSQL restarting under two live processes: both recover by themselves.

These restart this machine's Redis and PostgreSQL, so they are marked `restarts_services`
and run after every other test; each restarts the service again in a `finally`, even
when it fails.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as sync_redis

from tests.support.clients import eventually, expect, join
from tests.support.cluster import FAST_PRESENCE, Cluster, Node, People, Sockets, cluster, cookie
from tests.support.services import REDIS_URL, need, redis_answers
from tests.support.world import server_with

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.restarts_services,
]

REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
]


def stop_redis() -> None:
    """Shut this machine's Redis down without saving (its data is gone)."""
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], check=False
    )
    deadline = time.monotonic() + 10
    while redis_answers():
        assert time.monotonic() < deadline, "Redis did not stop"
        time.sleep(0.05)


def start_redis() -> None:
    """Start Redis as this machine runs it, unless it is up; wait until it answers."""
    if redis_answers():
        return
    extra = []
    if Path("/var/lib/redis").is_dir() and Path("/var/log/redis").is_dir():
        extra = ["--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"]
    subprocess.run([*REDIS_START, *extra], check=True)
    deadline = time.monotonic() + 20
    while not redis_answers():
        assert time.monotonic() < deadline, "Redis did not start"
        time.sleep(0.05)


def _pg_cluster() -> list[str]:
    versions = sorted(path.name for path in Path("/etc/postgresql").iterdir())
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main"]


def _postgres_up() -> bool:
    done = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False)
    return done.returncode == 0


def stop_postgres() -> None:
    """Stop this machine's PostgreSQL (fast: open connections are cut)."""
    subprocess.run([*_pg_cluster(), "stop", "-m", "fast"], check=True)


def start_postgres() -> None:
    """Start PostgreSQL unless it is up; wait until it accepts connections."""
    if not _postgres_up():
        subprocess.run([*_pg_cluster(), "start"], check=False)
    deadline = time.monotonic() + 30
    while not _postgres_up():
        assert time.monotonic() < deadline, "PostgreSQL did not start"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Processes A and B (short presence leases)."""
    need(shutil.which("redis-server") is not None, "redis-server is not installed here")
    need(Path("/etc/postgresql").is_dir(), "no local PostgreSQL cluster to restart")
    quick_resync = {"ZIZANY_RESYNC_SPREAD_SECONDS": "0.5"}
    with cluster(tmp_path_factory.mktemp("restarts"), **FAST_PRESENCE, **quick_resync) as made:
        made.start("A", "B")
        yield made


def subscribers(channel: str) -> int:
    """How many processes listen on the pub/sub channel (0 while Redis is down)."""
    client = sync_redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        counts = client.pubsub_numsub(channel)
        return int(counts[0][1]) if counts else 0
    except sync_redis.RedisError:
        return 0
    finally:
        client.close()


async def test_after_a_redis_restart_the_processes_reconnect_and_broadcasts_resume(
    pair: Cluster, a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner, member = await people.person("owner"), await people.person("member")
    server_id, channel_id = await server_with(owner, member)
    owner_a = await sockets.joined(a, owner, server_id, channel_id)
    member_b = await sockets.joined(b, member, server_id, channel_id)
    channel = f"{pair.prefix}:socketio"
    assert subscribers(channel) == 2

    try:
        stop_redis()

        async def unsubscribed() -> bool:
            return "Redis pub/sub lost" in a.log

        await eventually(unsubscribed, timeout=10)
        # Redis down: the request still works (PostgreSQL); the broadcast that could not be
        # published is logged and counted. No socket gets room events while its process's
        # subscription is down (they would move its client's catch-up past lost ones).
        expect(
            await people.on(owner, a).post(
                f"/api/channels/{channel_id}/messages", json={"content": "while Redis is down"}
            ),
            201,
        )
        await asyncio.sleep(1.0)
        assert owner_a.named("message:new") == []
        assert re.search(r"broadcast NOT published .*message:new.*1 failed so far", a.log), a.log
        health = await people.on(owner, a).get("/api/health")
        assert health.status_code == 503 and health.json()["redis"] == "unavailable"
    finally:
        start_redis()

    # Both processes resubscribe by themselves (no restart of theirs).
    async def resubscribed() -> bool:
        return subscribers(channel) == 2

    await eventually(resubscribed, timeout=30)

    # The sockets from before the gap may have missed broadcasts: each process drops them
    # (service.realtime.resync) and their clients would reconnect and catch up. These
    # test clients do not reconnect by themselves: connect again and rejoin.
    async def dropped() -> bool:
        return not owner_a.sio.connected and not member_b.sio.connected

    await eventually(dropped, timeout=15)
    owner_a = await sockets.connect(a, cookie(owner))
    member_b = await sockets.connect(b, cookie(member))
    await join(owner_a, server_id, channel_id)
    await join(member_b, server_id, channel_id)
    ack = await member_b.call("message:create", {"channelId": channel_id, "content": "back"})
    assert ack["ok"] is True
    assert (await owner_a.wait_for("message:new"))[-1] == ack["message"]
    posted = expect(
        await people.on(owner, a).post(
            f"/api/channels/{channel_id}/messages", json={"content": "and from A"}
        ),
        201,
    )["message"]
    assert (await member_b.wait_for("message:new", count=2))[-1] == posted  # its own, then A's
    await member_b.call("typing:start", {"channelId": channel_id})
    assert (await owner_a.wait_for("typing:update"))[-1]["userId"] == member.id

    # The leases Redis lost are written back by the next refresh: both online again.
    async def both_online() -> bool:
        response = await people.on(owner, a).get(f"/api/servers/{server_id}/members")
        return response.status_code == 200 and all(m["online"] for m in response.json()["members"])

    await eventually(both_online, timeout=10)

    async def healthy() -> bool:
        for node in (a, b):
            if (await people.on(owner, node).get("/api/health")).status_code != 200:
                return False
        return True

    await eventually(healthy, timeout=10, interval=0.5)


async def test_during_a_postgresql_restart_requests_fail_with_503_and_then_recover(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner = await people.person("owner")
    server_id, channel_id = await server_with(owner)
    owner_b = await sockets.joined(b, owner, server_id, channel_id)

    try:
        stop_postgres()
        for node in (a, b):
            response = await people.on(owner, node).get(f"/api/servers/{server_id}")
            expect(response, 503, "E_INTERNAL")
            health = await people.on(owner, node).get("/api/health")
            assert health.status_code == 503 and health.json()["database"] == "unavailable"
        ack = await owner_b.call("message:create", {"channelId": channel_id, "content": "x"})
        assert ack["ok"] is False and ack["code"] == "E_INTERNAL"
        assert owner_b.sio.connected
    finally:
        start_postgres()

    async def recovered() -> bool:
        for node in (a, b):
            response = await people.on(owner, node).get(f"/api/servers/{server_id}")
            if response.status_code != 200:
                return False
        return True

    await eventually(recovered, timeout=30, interval=0.5)
    ack = await owner_b.call("message:create", {"channelId": channel_id, "content": "back"})
    assert ack["ok"] is True
