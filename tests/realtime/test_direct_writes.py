"""Broadcasts framed once and written straight to WebSocket connections (service.realtime.direct).

The full app under uvicorn with the protocol `zizany serve` uses; real python-socketio
clients over WebSocket and long-polling, and a raw TCP client that stops reading.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import engineio
import httpx
import pytest
import uvicorn.protocols.websockets.websockets_sansio_impl as sansio
from websockets.protocol import Protocol, State

from service.app import create_app
from service.realtime import direct
from service.realtime.lean import LeanEvent, LeanQueue
from tests.support.clients import RecordingClient
from tests.support.deployment import make_settings
from tests.support.live import LiveServer, serve

pytestmark = pytest.mark.anyio


@pytest.fixture
def live(tmp_path: Any) -> Iterator[LiveServer]:
    with serve(create_app(make_settings(tmp_path))) as server:
        yield server


class Member:
    """A signed-up user with its cookie."""

    def __init__(self, http: httpx.AsyncClient, user_id: int, cookie: str) -> None:
        self.http = http
        self.id = user_id
        self.cookie = cookie

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"connect.sid={self.cookie}"}


async def signup(live: LiveServer, name: str) -> Member:
    http = httpx.AsyncClient(base_url=live.url)
    r = await http.post(
        "/api/auth/signup",
        json={
            "username": name,
            "email": f"{name}.{uuid.uuid4().hex[:8]}@example.com",
            "password": "pw-123456",
        },
    )
    assert r.status_code == 201, r.text
    cookie = http.cookies.get("connect.sid")
    assert cookie is not None
    return Member(http, r.json()["user"]["id"], cookie)


async def public_server_with(owner: Member, *members: Member) -> tuple[int, int]:
    """A public server of `owner` that `members` joined, and its general channel."""
    r = await owner.http.post("/api/servers", json={"name": "direct", "is_public": True})
    assert r.status_code == 201, r.text
    server_id = r.json()["server"]["id"]
    for m in members:
        assert (await m.http.post(f"/api/servers/{server_id}/join", json={})).status_code == 201
    channels = (await owner.http.get(f"/api/servers/{server_id}/channels")).json()["channels"]
    return server_id, channels[0]["id"]


@pytest.fixture
async def clients() -> AsyncIterator[list[RecordingClient]]:
    made: list[RecordingClient] = []
    yield made
    for c in made:
        await c.close()


async def connect(
    live: LiveServer, member: Member, made: list[RecordingClient], transport: str = "websocket"
) -> RecordingClient:
    c = RecordingClient()
    await c.connect(live.url, headers=member.headers, transport=transport)
    made.append(c)
    return c


async def test_a_broadcast_reaches_websocket_and_polling_sockets_once_and_in_order(
    live: LiveServer, clients: list[RecordingClient]
) -> None:
    sara = await signup(live, "sara")
    readers = [await signup(live, f"reader{i}") for i in range(3)]
    _, channel_id = await public_server_with(sara, *readers)
    sender = await connect(live, sara, clients)
    ws_readers = [await connect(live, r, clients) for r in readers[:2]]
    poll_reader = await connect(live, readers[2], clients, transport="polling")
    for c in (sender, *ws_readers, poll_reader):
        assert (await c.call("channel:join", {"channelId": channel_id}))["ok"]
    before = direct.COUNTERS.direct_writes

    contents = [f"m{i}" for i in range(150)]
    for content in contents:
        ack = await sender.call("message:create", {"channelId": channel_id, "content": content})
        assert ack["ok"], ack
        # The broadcast and the ack travel the same connection: the sender's own
        # message:new was written before its ack.
        assert sender.named("message:new")[-1]["id"] == ack["message"]["id"]

    for c in (sender, *ws_readers, poll_reader):
        received = await c.wait_for("message:new", count=len(contents), timeout=60)
        assert [m["content"] for m in received] == contents
    # Three WebSocket recipients per message (the sender included), plus its acks.
    assert direct.COUNTERS.direct_writes - before >= 3 * len(contents)
    for m in (sara, *readers):
        await m.http.aclose()


async def test_an_idle_websocket_socket_outlives_several_ping_cycles_with_direct_writes(
    tmp_path: Any, clients: list[RecordingClient]
) -> None:
    # Engine.IO's writer task closes a connection whose queue stays silent for
    # ping_interval + ping_timeout: the pings must keep taking the queue.
    settings = make_settings(tmp_path, ping_interval_seconds=0.5, ping_timeout_seconds=0.5)
    with serve(create_app(settings)) as live:
        sara, omar = await signup(live, "sara"), await signup(live, "omar")
        _, channel_id = await public_server_with(sara, omar)
        sender, reader = await connect(live, sara, clients), await connect(live, omar, clients)
        for c in (sender, reader):
            assert (await c.call("channel:join", {"channelId": channel_id}))["ok"]
        for i in range(8):
            ack = await sender.call("message:create", {"channelId": channel_id, "content": f"{i}"})
            assert ack["ok"], ack
            await asyncio.sleep(0.5)
        assert sender.sio.connected and reader.sio.connected
        assert len(await arrived(reader, 8)) == 8
        for m in (sara, omar):
            await m.http.aclose()


async def test_an_open_websocket_keeps_no_handshake_objects_and_lean_containers(
    live: LiveServer, clients: list[RecordingClient]
) -> None:
    # What an idle socket holds for its life: not the handshake's request, response and
    # scope headers (4 KiB of header structures), and a lean queue and flag instead of
    # asyncio.Queue and asyncio.Event (five deques, 3 KiB).
    sara = await signup(live, "sara")
    c = await connect(live, sara, clients)
    assert c.sio.connected
    protocols = [
        o
        for o in gc.get_objects()
        if isinstance(o, direct.DirectWritesProtocol) and o.handshake_complete and not o.close_sent
    ]
    assert protocols, "no open WebSocket protocol found in this process"
    fresh_parsers = 0
    for protocol in protocols:
        handshake: tuple[object, object] = (protocol.request, protocol.response)
        assert handshake == (None, None)
        assert protocol.scope["headers"] == []
        queue: object = protocol.queue  # declared asyncio.Queue by uvicorn
        writable: object = protocol.writable  # declared asyncio.Event
        assert type(queue) is LeanQueue
        assert isinstance(writable, LeanEvent) and writable.is_set()
        # No WebSocket keepalive timer (Engine.IO pings), and a frame parser that no
        # longer holds the handshake's request in its generator frame.
        assert protocol.ping_timer is None
        parser: Any = protocol.conn.parser
        if protocol.conn.state is State.OPEN:  # not one of another test's, closing now
            fresh_parsers += 1
            assert parser.gi_code is Protocol.parse.__code__
            assert "request" not in parser.gi_frame.f_locals
    assert fresh_parsers >= 1  # this test's own socket, at least
    # The environ python-socketio keeps for the socket: only what a CONNECT reads.
    environs = [
        o
        for o in gc.get_objects()
        if isinstance(o, dict) and o.get("HTTP_COOKIE") == f"connect.sid={sara.cookie}"
    ]
    assert environs
    for environ in environs:
        assert set(environ) <= {
            "HTTP_COOKIE",
            "REQUEST_METHOD",
            "PATH_INFO",
            "QUERY_STRING",
            "REMOTE_ADDR",
        }, sorted(environ)
    await sara.http.aclose()


def test_the_library_hooks_direct_writes_rely_on_are_still_there() -> None:
    # What service.realtime.direct builds on, so an upgrade that moves one fails here.
    from engineio.async_drivers import asgi

    assert isinstance(asgi._async, dict) and asgi._async["websocket"] is asgi.WebSocket
    assert callable(engineio.AsyncServer.create_queue)
    for name in ("handle_connect", "pause_writing", "resume_writing", "send"):
        assert callable(getattr(sansio.WebSocketsSansIOProtocol, name)), name
    probe = sansio.WebSocketsSansIOProtocol.__init__.__code__.co_names
    for attribute in ("handshake_complete", "close_sent", "disconnected", "writable", "conn"):
        assert attribute in probe, attribute


def test_a_text_frame_has_the_rfc_6455_header_for_each_length_form() -> None:
    assert direct.text_frame(b"hi") == b"\x81\x02hi"
    assert direct.text_frame(b"x" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert direct.text_frame(b"x" * 70_000)[:10] == b"\x81\x7f" + (70_000).to_bytes(8, "big")


async def arrived(client: RecordingClient, count: int, timeout: float = 60) -> list[Any]:
    """The first `count` message:new of `client`; fails with a short message otherwise."""
    try:
        return (await client.wait_for("message:new", count=count, timeout=timeout))[:count]
    except TimeoutError:
        received = len(client.named("message:new"))
    raise AssertionError(f"{received} of {count} message:new arrived")


class StalledSocket:
    """A raw Engine.IO-over-WebSocket client that joins a channel, then stops reading."""

    def __init__(self, port: int, cookie: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive window, so the server's own buffer is what fills up.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Cookie: connect.sid={cookie}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_text(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        assert len(data) < 126
        self.sock.sendall(bytes((0x81, 0x80 | len(data))) + mask + masked)

    def read_text(self) -> str:
        while True:
            if len(self.buffer) >= 2:
                size = self.buffer[1] & 0x7F
                offset = 2
                if size == 126:
                    size, offset = int.from_bytes(self.buffer[2:4], "big"), 4
                elif size == 127:
                    size, offset = int.from_bytes(self.buffer[2:10], "big"), 10
                if len(self.buffer) >= offset + size:
                    frame, self.buffer = (
                        self.buffer[offset : offset + size],
                        self.buffer[offset + size :],
                    )
                    return frame.decode()
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk

    def join(self, channel_id: int) -> None:
        assert self.read_text().startswith("0{")  # Engine.IO open
        self.send_text("40")
        assert self.read_text().startswith("40")  # Socket.IO connect
        self.send_text(f'42["channel:join",{{"channelId":{channel_id}}}]')
        while not self.read_text().startswith('42["channel:joined"'):
            pass

    def closed_by_server(self, timeout: float) -> bool:
        """Read everything the server sent; True once it closed the connection."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(1)
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(1 << 20):
                    return True
            except TimeoutError:
                continue
            except OSError:
                return True
        return False


async def test_a_websocket_recipient_that_stops_reading_is_dropped_and_the_others_keep_up(
    tmp_path: Any,
) -> None:
    settings = make_settings(tmp_path, max_send_buffer_bytes=256 * 1024, max_send_queue_packets=64)
    made: list[RecordingClient] = []
    with serve(create_app(settings)) as live:
        sara, omar, stalled_user = [await signup(live, n) for n in ("sara", "omar", "stall")]
        server_id, channel_id = await public_server_with(sara, omar, stalled_user)
        sender, reader = await connect(live, sara, made), await connect(live, omar, made)
        for c in (sender, reader):
            assert (await c.call("channel:join", {"channelId": channel_id}))["ok"]
        assert (await reader.call("server:join", {"serverId": server_id}))["ok"]
        stalled = await asyncio.to_thread(StalledSocket, live.port, stalled_user.cookie)
        await asyncio.to_thread(stalled.join, channel_id)
        dropped_before = direct.COUNTERS.slow_consumers_dropped

        content = "x" * 3900
        sent = 0
        # Bounded: 1,500 messages of ~4 KB (6 MB) are far beyond the 256 KiB bound plus
        # what the kernel buffers for a 4 KiB receive window.
        while direct.COUNTERS.slow_consumers_dropped == dropped_before and sent < 1500:
            for _ in range(50):
                await sender.emit("message:create", {"channelId": channel_id, "content": content})
            sent += 50
            await arrived(sender, sent)
        assert direct.COUNTERS.slow_consumers_dropped > dropped_before, f"{sent} messages"

        received = await arrived(reader, sent)
        assert len(received) == sent
        assert len({m["id"] for m in received}) == sent
        assert await asyncio.to_thread(stalled.closed_by_server, 10)
        # The drop runs the socket's disconnect: its user goes offline for the others.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            updates = reader.named("presence:update")
            if updates and stalled_user.id not in updates[-1]["onlineUserIds"]:
                break
            await asyncio.sleep(0.1)
        assert stalled_user.id not in reader.named("presence:update")[-1]["onlineUserIds"]
        for c in made:
            await c.close()
        stalled.sock.close()
        for m in (sara, omar, stalled_user):
            await m.http.aclose()
