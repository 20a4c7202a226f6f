"""Two processes sharing PostgreSQL and a Redis that restarts: the generated client on
one misses nothing the other sent meanwhile, because the process drops the connections
that may have missed broadcasts once its pub/sub is back (service.realtime.resync), and
only then.

The Redis here is a private `redis-server` on a free port (not this machine's, which the
other tests share), stopped and started again while a reader on process B stays
subscribed and a sender keeps posting on process A.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from generated.realtime.client import ZizanyClient
from generated.realtime.models import ChannelJoin, Message, ServerJoin
from tests.support.cluster import FAST_PRESENCE, Cluster, People, cluster, cookie
from tests.support.live import free_port
from tests.support.node import need_node
from tests.support.paths import ROOT
from tests.support.services import need, redis_answers
from tests.support.world import Poster, server_with, stored_ids

# The connections that may have missed broadcasts are dropped within this, not 5 s.
QUICK_RESYNC = {"ZIZANY_RESYNC_SPREAD_SECONDS": "0.5"}

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


class Watched:
    """A reconnecting Socket.IO client that counts its connects and disconnects."""

    def __init__(self) -> None:
        self.http: aiohttp.ClientSession | None = None
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2)
        self.connects = 0
        self.disconnects: list[Any] = []
        self.messages: list[int] = []
        self.sio.on("connect", handler=self._connected)
        self.sio.on("disconnect", handler=self._disconnected)
        self.sio.on("message:new", handler=self._message)

    async def _connected(self) -> None:
        self.connects += 1

    async def _disconnected(self, reason: Any = None) -> None:
        self.disconnects.append(reason)

    async def _message(self, message: dict[str, Any]) -> None:
        self.messages.append(message["id"])

    async def connect(self, url: str, session: str, transport: str, channel_id: int) -> None:
        # One HTTP session of ours for every attempt (engine.io's own ones leak on reconnects).
        self.http = self.sio.eio.http = aiohttp.ClientSession()
        self.sio.eio.external_http = True
        await self.sio.connect(
            url,
            # A fresh dict per attempt: engine.io moves the Cookie out of the one it gets.
            headers=lambda: {"Cookie": f"connect.sid={session}"},
            transports=[transport],
            wait_timeout=10,
        )
        assert (await self.sio.call("channel:join", {"channelId": channel_id}))["ok"] is True

    async def close(self) -> None:
        await self.sio.shutdown()
        if self.http is not None:
            await self.http.close()


async def until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


class PrivateRedis:
    """A redis-server of this test's own, without persistence."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = tmp / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def up(self) -> bool:
        return redis_answers(self.url)

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--logfile", str(self.log)]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self.up():
            assert time.monotonic() < deadline, "the private Redis did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    need(shutil.which("redis-server") is not None, "redis-server is not installed here")
    made = PrivateRedis(tmp_path)
    made.start()
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture
def pair(tmp_path: Path, private_redis: PrivateRedis) -> Iterator[Cluster]:
    limits = {"ZIZANY_MESSAGE_RATE_LIMIT": "10000", **FAST_PRESENCE, **QUICK_RESYNC}
    with cluster(tmp_path, ZIZANY_REDIS_URL=private_redis.url, **limits) as made:
        made.start("A", "B")
        yield made


@pytest.fixture
async def people(pair: Cluster) -> AsyncIterator[People]:
    made = People(pair.nodes["A"].url)
    try:
        yield made
    finally:
        await made.aclose()


async def test_a_reader_on_one_process_sees_every_message_once_in_order_across_a_redis_restart(
    pair: Cluster, people: People, private_redis: PrivateRedis
) -> None:
    a, b = pair.nodes["A"], pair.nodes["B"]
    sender, reader = await people.person("sender"), await people.person("reader")
    server_id, channel_id = await server_with(sender, reader)
    poster = Poster(sender, channel_id)
    # The same sender on B while Redis is down: B's own messages must not move the reader
    # past A's lost ones. (Not while both processes deliver live: then a message of B can
    # reach the reader before an older one of A, as Socket.IO across processes does.)
    poster_b = Poster(dataclasses.replace(sender, http=people.on(sender, b)), channel_id)
    seen: list[Message] = []
    client = ZizanyClient(reconnect=True, timeout=10)

    @client.on_message_new
    def remember(message: Message) -> None:
        seen.append(message)

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(client)
        await client.connect(b.url, cookie=cookie(reader), transports=["websocket"])
        await client.server_join(ServerJoin(serverId=server_id))
        await client.channel_join(ChannelJoin(channelId=channel_id))
        first = await poster.post()
        assert first is not None
        await client.wait_for("message:new", where=lambda m: m.id == first)
        assert a.url != b.url

        stop = asyncio.Event()
        posting = asyncio.create_task(poster.keep_posting(stop))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(private_redis.stop)
        await until(lambda: "Redis pub/sub lost" in b.log, 10, "B lost its subscription")
        stop_b = asyncio.Event()
        posting_b = asyncio.create_task(poster_b.keep_posting(stop_b))
        await asyncio.sleep(2.0)  # stored; B's sockets get neither A's nor B's own
        stop_b.set()
        await posting_b
        assert poster_b.count > 0
        await asyncio.to_thread(private_redis.start)
        await asyncio.sleep(6.0)  # both processes resubscribe; live delivery resumes
        stop.set()
        await posting
        last = await poster.post()
        assert last is not None
        await client.wait_for("message:new", where=lambda m: m.id == last, timeout=20)
        await asyncio.sleep(0.5)

        stored = [i for i in await stored_ids(sender, channel_id) if i >= first]
        assert [m.id for m in seen] == stored


@pytest.mark.postgres
@pytest.mark.node
async def test_a_redis_restart_drops_the_other_process_s_connections_once_and_they_reconnect(
    pair: Cluster, people: People, private_redis: PrivateRedis
) -> None:
    b = pair.nodes["B"]  # the sender posts on A
    sender, reader = await people.person("sender"), await people.person("reader")
    _, channel_id = await server_with(sender, reader)
    path = f"/api/channels/{channel_id}/messages"
    need_node("socket.io-client")
    watched = {transport: Watched() for transport in ("websocket", "polling")}
    late = Watched()
    # And the official client, socket.io-client in Node.js, for 20 s.
    config = {"url": b.url, "cookie": cookie(reader), "channelId": channel_id, "seconds": 20}
    node = await asyncio.create_subprocess_exec(
        "node",
        str(Path(__file__).with_name("watch_socket.mjs")),
        json.dumps(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        for transport, client in watched.items():
            await client.connect(b.url, cookie(reader), transport, channel_id)
        assert node.stdout is not None
        first = json.loads(await asyncio.wait_for(node.stdout.readline(), 15))
        assert first == {"event": "connect", "joined": True}

        # No gap: messages from A arrive live, nobody is dropped.
        for n in range(5):
            assert (await sender.http.post(path, json={"content": f"before {n}"})).is_success
        await until(lambda: all(len(c.messages) == 5 for c in watched.values()), 10, "live")
        await asyncio.sleep(1.5)
        assert [(c.connects, c.disconnects) for c in watched.values()] == [(1, [])] * 2

        await asyncio.to_thread(private_redis.stop)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(private_redis.start)
        # B resubscribes within 4 s and drops each connection within 0.5 s; the clients
        # reconnect by themselves (as after a lost connection, not a server disconnect).
        await until(lambda: all(c.connects == 2 for c in watched.values()), 15, "reconnected")
        await late.connect(b.url, cookie(reader), "websocket", channel_id)
        await asyncio.sleep(2.0)
        for client in watched.values():
            assert client.connects == 2 and len(client.disconnects) == 1, client.disconnects
            assert client.disconnects[0] == socketio.AsyncClient.reason.TRANSPORT_ERROR
            assert client.sio.connected
        assert (late.connects, late.disconnects) == (1, [])  # connected after the gap

        output, _ = await asyncio.wait_for(node.communicate(), 30)
        records = [json.loads(line) for line in output.decode().splitlines()]
        lifecycle = [r for r in records if r["event"] != "message:new"]
        assert lifecycle == [
            {"event": "disconnect", "reason": "transport close"},
            {"event": "connect", "joined": True},
            {"event": "disconnect", "reason": "io client disconnect"},  # its own, at the end
            {"event": "done"},
        ], output.decode()
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
        for client in [*watched.values(), late]:
            await client.close()
