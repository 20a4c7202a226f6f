"""The light receiver: thousands of raw Engine.IO 4 / Socket.IO 5 WebSocket clients in one
process (picows on uvloop, orjson), so that rooms of 1,000 and 5,000 measure the server.

Run by bench/ as `python -m bench.receiver`, with the commands `connect`, `collect` and
`close` of bench/protocol.py (sending stays with bench/loadgen.py's python-socketio
clients). Per socket: the WebSocket handshake straight to
`/socket.io/?EIO=4&transport=websocket` with the `Cookie` header, the server's `0{...}`
open packet, our `40` and the server's `40{...}` (or `44{...}`, refused), `server:join` /
`channel:join` as events with an ack id (`42N[...]`, answered `43N[...]`), a pong `3` for
every ping `2`, and each `42["message:new",{...}]` frame parsed for the latency of the
message from the send time in its content (CLOCK_MONOTONIC, shared by the machine).

Measured against one `ws` server broadcasting to 1,000 sockets (2 shared cores, load ≈ 12):
picows ≈ 8 µs user + 6 µs system per delivery parsed, Node.js `ws` ≈ 16 + 6.5, and
python-socketio's AsyncClient ≈ 170 + 7 — so the receiver is picows.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench import protocol
from bench.protocol import Arrival

PING, OPEN, CLOSE, MESSAGE = 0x32, 0x30, 0x31, 0x34  # Engine.IO packet types ('2', '0', ...)
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR = 0x30, 0x31, 0x32, 0x33, 0x34  # Socket.IO
DIGITS = b"0123456789"


@dataclass(eq=False)
class Sock:
    """One receiving socket and what it got."""

    key: int
    channel: int | None
    transport: WSTransport | None = None
    connected: asyncio.Future[None] | None = None
    next_ack: int = 0
    acks: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    got: list[Arrival] = field(default_factory=list)

    def call(self, event: str, payload: dict[str, Any]) -> asyncio.Future[Any]:
        """Emit `event` with an ack id; the future of the ack's first argument."""
        assert self.transport is not None
        ack_id = self.next_ack
        self.next_ack += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = fut
        self.transport.send(WSMsgType.TEXT, b"42%d" % ack_id + orjson.dumps([event, payload]))
        return fut


class Listener(WSListener):  # type: ignore[misc]
    """The Engine.IO / Socket.IO side of one socket."""

    def __init__(self, sock: Sock) -> None:
        super().__init__()
        self.sock = sock

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return  # pings are answered by picows; close frames end in on_ws_disconnected
        data: bytes = frame.get_payload_as_bytes()
        kind = data[0]
        if kind == MESSAGE:
            packet = data[1]
            if packet == EVENT:
                event, payload = orjson.loads(data[2:])[:2]
                if event == "message:new":
                    self.on_message(payload)
            elif packet == ACK:
                end = 2
                while end < len(data) and data[end] in DIGITS:
                    end += 1
                fut = self.sock.acks.pop(int(data[2:end]), None)
                if fut is not None and not fut.done():
                    fut.set_result(orjson.loads(data[end:])[0])
            elif packet == CONNECT:
                self._connected(None)
            elif packet == CONNECT_ERROR:
                self._connected(RuntimeError(f"connect_error {data[2:200]!r}"))
            elif packet == DISCONNECT:
                transport.disconnect()
        elif kind == PING:
            transport.send(WSMsgType.TEXT, b"3")
        elif kind == OPEN:
            transport.send(WSMsgType.TEXT, b"40")
        elif kind == CLOSE:
            transport.disconnect()

    def on_message(self, message: dict[str, Any]) -> None:
        now = time.monotonic()
        content = message.get("content")
        if not isinstance(content, str) or not content.startswith("bench|"):
            return
        parts = content.split("|", 4)
        self.sock.got.append(
            (
                int(message["channel_id"]),
                int(message["id"]),
                int(parts[1]),
                int(parts[2]),
                now - float(parts[3]),
            )
        )

    def _connected(self, error: Exception | None) -> None:
        fut = self.sock.connected
        if fut is not None and not fut.done():
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._connected(RuntimeError("disconnected before the Socket.IO connect"))
        for fut in self.sock.acks.values():
            if not fut.done():
                fut.set_exception(RuntimeError("disconnected"))
        self.sock.acks.clear()


class Receivers:
    """The sockets of this process."""

    def __init__(self) -> None:
        self.socks: dict[int, Sock] = {}

    async def connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        base = urlsplit(str(cmd["url"]))
        url = f"ws://{base.netloc}/socket.io/?EIO=4&transport=websocket"
        sem = asyncio.Semaphore(int(cmd.get("concurrency", 50)))
        times: list[float] = []
        failures: list[str] = []
        start = time.monotonic()

        async def one(spec: dict[str, Any]) -> None:
            sock = Sock(int(spec["key"]), spec.get("channel"))
            async with sem:
                t0 = time.monotonic()
                try:
                    sock.connected = asyncio.get_running_loop().create_future()
                    sock.transport, _ = await ws_connect(
                        lambda: Listener(sock),
                        url,
                        extra_headers={"Cookie": f"connect.sid={spec['cookie']}"},
                        websocket_handshake_timeout=60,
                        read_buffer_init_size=4096,
                    )
                    await asyncio.wait_for(sock.connected, 60)
                    times.append(time.monotonic() - t0)
                    for event, name, key in (
                        ("server:join", "server", "serverId"),
                        ("channel:join", "channel", "channelId"),
                    ):
                        if spec.get(name) is not None:
                            ack = await asyncio.wait_for(sock.call(event, {key: spec[name]}), 60)
                            if not (isinstance(ack, dict) and ack.get("ok")):
                                raise RuntimeError(f"{event} {ack}")
                except Exception as exc:
                    failures.append(f"{spec['key']}: {exc!r}")
                    if sock.transport is not None:
                        sock.transport.disconnect()
                    return
            self.socks[sock.key] = sock

        await asyncio.gather(*(one(s) for s in cmd["sockets"]))
        return {
            "connected": len(cmd["sockets"]) - len(failures),
            "failures": failures[:10],
            "failed": len(failures),
            "elapsed": time.monotonic() - start,
            "connect_s": times,
        }

    async def collect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return await protocol.collect(self.socks, cmd)

    async def close(self, _cmd: dict[str, Any]) -> dict[str, Any]:
        transports = [s.transport for s in self.socks.values() if s.transport is not None]
        for t in transports:
            t.send(WSMsgType.TEXT, b"41")  # the Socket.IO disconnect, then the close handshake
            # A status code (1000): picows's default sends 0, which a strict peer (Node's ws)
            # rejects as a protocol error.
            t.send_close(WSCloseCode.OK)
        await asyncio.gather(
            *(asyncio.wait_for(t.wait_disconnected(), 5) for t in transports),
            return_exceptions=True,
        )
        for t in transports:
            t.disconnect()
        self.socks.clear()
        return {"closed": True}


async def serve() -> None:
    receivers = Receivers()
    await protocol.serve(
        {"connect": receivers.connect, "collect": receivers.collect, "close": receivers.close}
    )


if __name__ == "__main__":
    protocol.run(serve)
