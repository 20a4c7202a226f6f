"""The one task of an Engine.IO socket that is a WebSocket from its start: it reads.

python-engineio serves a WebSocket with two tasks for its whole life: the reader, which
makes a task and a timer for every frame it waits for (`wait_for` of a `websocket_wait`
task, `ping_interval + ping_timeout`), and a writer that waits on the socket's queue the
same way. With the ping task (service.realtime.pings) that was five tasks and three timer
handles per idle socket, and two task round trips per packet received.

`receive_packets` keeps the reader and drops the rest, for a connection whose socket's
queue is a `DirectQueue` (service.realtime.direct): the queue writes every packet at once
(`write_all`), so there is no writer to wait on, and the reader awaits the next frame
with nothing around it. Its timeout is not needed: a client that stops answering pings is
closed by python-engineio's service task (`check_ping_timeout`), and a socket's close, by
whoever, ends the reading here (`RawWriter.end_reading`). What the library's handler does with each
packet, and when it closes, is kept: the packet goes to `AsyncSocket.receive`; the end
of the connection closes the WebSocket (through the ASGI send, so the transport guards
choose its close code) and then the socket (`TRANSPORT_CLOSE`, no CLOSE packet).

Upgrades from long-polling keep python-engineio's handler.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet


class WritesAll(Protocol):
    """The socket's queue: `DirectQueue` (service.realtime.direct imports this module)."""

    def write_all(self, socket: Any, writer: Any, websocket: Any) -> None: ...

    def detach(self) -> None: ...


async def receive_packets(socket: Any, websocket: Any, queue: WritesAll, writer: Any) -> None:
    """Serve one accepted WebSocket connection of a new Engine.IO socket until it ends."""
    server = socket.server
    socket.connected = True
    socket.upgraded = True
    queue.write_all(socket, writer, websocket)
    # However the socket closes — python-engineio's ping timeout sends no CLOSE packet
    # (its send sees the socket closing) — the reading ends with it.
    socket.close = partial(_close_then_end_reading, socket.close, writer)
    try:
        while not socket.closed:
            try:
                data = await websocket.wait()
            except OSError:  # the client went away (or end_reading said so)
                break
            if data is None or len(data) > server.max_http_buffer_size:
                break
            pkt = eio_packet.Packet(encoded_packet=data)
            try:
                await socket.receive(pkt)
            except eio_exceptions.UnknownPacketError:
                pass
            except eio_exceptions.SocketIsClosedError:
                break
            except Exception:
                server.logger.exception("Unknown receive error")
    finally:
        queue.detach()
    await websocket.close()
    await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


async def _close_then_end_reading(close: Any, writer: Any, *args: Any, **kwargs: Any) -> None:
    try:
        await close(*args, **kwargs)
    finally:
        writer.end_reading()
