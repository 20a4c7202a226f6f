"""Direct WebSocket writes: a packet is framed once and its bytes written to each socket.

python-engineio hands every outgoing packet to a per-socket queue; a writer task per
socket wakes up, frames it and writes it through the ASGI send of the server. For a
room broadcast that is a queue hop, a task switch and a WebSocket framing per recipient
(most of the 53 CPU-µs per delivery measured in bench/README.md, against Node's 13).
Server-to-client frames are not masked, so the same bytes serve every recipient.

This module keeps the library's machinery and adds a short cut around it:
- `DirectWritesProtocol` is uvicorn's sans-I/O WebSocket protocol, publishing a
  `RawWriter` for its connection in the ASGI scope (extension `zizany.websocket`).
- `DirectQueue` is the Engine.IO socket's queue: once the socket is on WebSocket, its
  writer task is idle (waiting on an empty queue) and the connection can take bytes, a
  message is written at once instead of queued. Anything else (polling, an upgrade under
  way, a writer busy or a connection that pushes back) takes the queue, so one socket's
  packets always leave in the order they were sent. A socket that is a WebSocket from
  its start has no writer task at all (service.realtime.receiving): its queue writes
  every packet at once (`write_all`), in the order they are sent.
- `enable_direct_writes(sio)` installs both on a Socket.IO server, and one timer for
  every socket's pings (service.realtime.pings).

A recipient that cannot keep up is disconnected, not buffered without bound: when its
transport holds more than `max_buffered_bytes` unsent, or (a socket with a writer task)
its queue more than `max_queued_packets` packets, the connection is aborted (the
socket's usual disconnect and cleanup follow) and `slow_consumers_dropped` counts it.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass
from functools import partial
from typing import Any

from engineio import packet as eio_packet
from engineio.async_drivers import asgi as eio_asgi
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol

from service.realtime.lean import LeanEvent, LeanQueue
from service.realtime.pings import Pings, schedule_pings
from service.realtime.receiving import receive_packets
from service.transport.frames import SOCKETIO_CONNECT_ERROR

log = logging.getLogger("zizany.realtime")

EXTENSION = "zizany.websocket"
# Socket.IO packet types written through: EVENT (2) and ACK (3).
_EVENT_OR_ACK = ("2", "3")


@dataclass(frozen=True, slots=True)
class SendBounds:
    """How much one recipient may hold unsent before it counts as one that cannot keep up."""

    max_buffered_bytes: int = 4 * 1024 * 1024
    max_queued_packets: int = 2048


DEFAULT_BOUNDS = SendBounds()


class Counters:
    """What the direct path did, for metrics and tests."""

    def __init__(self) -> None:
        self.direct_writes = 0
        self.queued_writes = 0
        self.slow_consumers_dropped = 0


COUNTERS = Counters()


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked WebSocket text frame carrying `payload` (RFC 6455 §5.2)."""
    return _frame(0x81, payload)


def binary_frame(payload: bytes) -> bytes:
    """A final, unmasked WebSocket binary frame carrying `payload`."""
    return _frame(0x82, payload)


def _frame(first: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


def packet_frame(pkt: eio_packet.Packet) -> bytes | None:
    """The WebSocket frame of an Engine.IO text packet; None for binary ones."""
    encoded = pkt.encode()
    if isinstance(encoded, bytes):
        return None
    return text_frame(encoded.encode())


class RawWriter:
    """Writes whole pre-built frames straight to one connection's transport."""

    __slots__ = ("_protocol", "max_buffered_bytes")

    def __init__(self, protocol: DirectWritesProtocol) -> None:
        self._protocol = protocol
        self.max_buffered_bytes = DEFAULT_BOUNDS.max_buffered_bytes  # set by DirectWebSocket

    def write(self, frame: bytes) -> bool:
        """Write `frame` now; False when the connection cannot take it directly."""
        protocol = self._protocol
        if not protocol.handshake_complete or not protocol.writable.is_set():
            return False
        return self.write_always(frame)

    def write_always(self, frame: bytes) -> bool:
        """Write `frame` now even while the transport is paused; False once it is closing.

        For a socket without a writer task (service.realtime.receiving): the transport
        buffers what the client has not read yet, up to `max_buffered_bytes`.
        """
        protocol = self._protocol
        transport = protocol.transport
        if protocol.close_sent or protocol.disconnected or transport.is_closing():
            return False
        transport.write(frame)
        if transport.get_write_buffer_size() > self.max_buffered_bytes:
            drop_slow_consumer(transport, "write buffer")
        return True

    def end_reading(self) -> None:
        """Make the connection's next (or pending) receive say the client disconnected."""
        self._protocol.queue.put_nowait({"type": "websocket.disconnect", "code": 1000})

    def abort(self, why: str) -> None:
        """Drop the connection (a recipient that cannot keep up)."""
        drop_slow_consumer(self._protocol.transport, why)


def drop_slow_consumer(transport: asyncio.BaseTransport, why: str) -> None:
    """Abort the connection; the socket's disconnect and cleanup follow as usual."""
    if transport.is_closing():
        return
    COUNTERS.slow_consumers_dropped += 1
    log.warning("dropping a connection that cannot keep up (%s over its bound)", why)
    abort = getattr(transport, "abort", None)
    if abort is not None:
        abort()
    else:  # pragma: no cover - every asyncio stream transport has abort()
        transport.close()


class DirectWritesProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, offering its connection for direct writes.

    Only without extensions (per-message deflate off): a compressed connection needs
    its frames from its own compressor, so it keeps the ASGI path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The same semantics in a fraction of the memory (an idle socket keeps both for
        # its life): an asyncio.Queue and an asyncio.Event were 3 KiB of five deques.
        self.queue = LeanQueue()  # type: ignore[assignment]
        self.writable = LeanEvent()  # type: ignore[assignment]
        self.writable.set()
        # No WebSocket-level keepalive: Engine.IO pings every socket already, and closes
        # one that stops answering (ping_timeout). uvicorn's own ping kept a timer handle
        # per socket (0.6 KiB) and sent a second ping frame every 20 s.
        self.ping_interval = None

    def handle_connect(self, event: Any) -> None:
        """As uvicorn does, plus the `zizany.websocket` writer in the ASGI scope."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent and not self.conn.extensions:
            scope["extensions"][EXTENSION] = RawWriter(self)

    async def send(self, message: Any) -> None:
        """As uvicorn does; a handshake answered with an HTTP response (the transport
        guards' 503 during a shutdown) counts as complete, so uvicorn does not log it as
        an app that "returned without completing handshake"."""
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True
        elif message["type"] == "websocket.accept" and self.handshake_complete:
            # uvicorn reads the handshake's request and response only until it answers,
            # and the app read the scope's headers when the connection began (python-
            # engineio copied them into its environ): 4 KiB of header structures that
            # would stay for the socket's life.
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
            self.scope["headers"] = []
            _restart_frame_parser(self.conn)


def _restart_frame_parser(conn: ServerProtocol) -> None:
    """A fresh frame parser for an open connection, without the handshake's request.

    websockets' server parser is one generator: it parses the request, then frames for the
    connection's life, its frame still holding the request (19 header objects, 1.1 KiB).
    Once the 101 is sent only the frame parser is left in it, and nothing of a frame can
    have been parsed (a client sends none before the 101; if bytes are waiting, the
    parser is left alone): start that one afresh.
    """
    if conn.state is State.OPEN and not conn.reader.buffer and conn.parser_exc is None:
        conn.parser = Protocol.parse(conn)
        next(conn.parser)


class DirectQueue(LeanQueue):
    """An Engine.IO socket's packet queue that writes through when nothing is pending."""

    __slots__ = (
        "_idle_getters",
        "_socket",
        "_websocket",
        "_writer",
        "max_queued_packets",
        "writes_all",
    )

    def __init__(self, max_queued_packets: int = DEFAULT_BOUNDS.max_queued_packets) -> None:
        super().__init__()
        self.max_queued_packets = max_queued_packets
        self._writer: RawWriter | None = None
        self._socket: Any = None
        self._idle_getters = 0
        # No writer task (service.realtime.receiving): every packet is written at once.
        self.writes_all = False
        self._websocket: Any = None

    def attach(self, socket: Any, writer: RawWriter) -> None:
        """The socket's WebSocket connection is up: allow direct writes to it."""
        self._socket = socket
        self._writer = writer

    def write_all(self, socket: Any, writer: RawWriter, websocket: Any) -> None:
        """From now on write every packet at once, starting with those already queued.

        For a socket served without a writer task: nothing else would take them.
        `websocket` (python-engineio's ASGI wrapper) sends what the transport guards must
        see: a refused handshake.
        """
        self.attach(socket, writer)
        self._websocket = websocket
        self.writes_all = True
        while self._queue:
            item = self._pop(self._queue)
            self._unfinished -= 1
            self.put_nowait(item)
        self._unfinished = 0

    def detach(self) -> None:
        """The WebSocket connection is gone: everything takes the queue again."""
        self._socket = None
        self._writer = None
        self._websocket = None
        self.writes_all = False

    def _can_write_through(self) -> bool:
        # The socket's writer task waits on an empty queue: nothing sent earlier is still
        # on its way, so a packet written now cannot overtake one. `upgraded` excludes a
        # long-poll request waiting on the queue during a transport upgrade.
        socket = self._socket
        return (
            self._writer is not None
            and self._idle_getters > 0
            and not self._queue
            and socket.upgraded
            and not socket.closed
        )

    def try_write(self, frame: bytes) -> bool:
        """Write a pre-built frame through when nothing is pending; else False."""
        writer = self._writer
        if writer is None:
            return False
        if self.writes_all:
            if writer.write_always(frame):
                COUNTERS.direct_writes += 1
            return True  # a connection that is closing drops it, as its queue would
        if not self._can_write_through() or not writer.write(frame):
            return False
        COUNTERS.direct_writes += 1
        return True

    async def put(self, item: Any) -> None:
        """As `put_nowait`; a refused handshake still takes the ASGI send when all is written
        at once, so the transport guards see it and close the connection."""
        websocket = self._websocket
        if self.writes_all and websocket is not None and _is_connect_error(item):
            await websocket.send(item.encode())
            return
        self.put_nowait(item)

    def put_nowait(self, item: Any) -> None:
        """Write a text packet through when possible, else queue it (bounded)."""
        if self.writes_all:
            self._write_now(item)
            return
        # Only Socket.IO events and acks. Pings (every ping_interval) keep taking the queue,
        # because the writer task gives up when its queue stays silent for ping_interval +
        # timeout; connects, refusals and disconnects too, so the transport guards
        # (service.transport.guards), which watch the ASGI sends, see them.
        if (
            isinstance(item, eio_packet.Packet)
            and item.packet_type == eio_packet.MESSAGE
            and isinstance(item.data, str)
            and item.data[:1] in _EVENT_OR_ACK
            and self._can_write_through()
        ):
            frame = packet_frame(item)
            if frame is not None and self.try_write(frame):
                return
        if item is not None:
            if self.qsize() >= self.max_queued_packets and self._writer is not None:
                self._writer.abort("send queue")
                return
            COUNTERS.queued_writes += 1
        super().put_nowait(item)

    def _write_now(self, item: Any) -> None:
        """Write a packet at once (no writer task); a CLOSE packet also ends the reading."""
        writer = self._writer
        if item is None or writer is None:
            return  # None stops a writer task, and there is none
        frame = packet_frame(item) or binary_frame(item.encode())
        if writer.write_always(frame):
            COUNTERS.direct_writes += 1
        if item.packet_type == eio_packet.CLOSE:
            writer.end_reading()

    async def get(self) -> Any:
        """The next packet; while waiting on an empty queue the socket is idle."""
        if not self.empty():
            return self.get_nowait()
        self._idle_getters += 1
        try:
            return await super().get()
        finally:
            self._idle_getters -= 1


class DirectWebSocket(eio_asgi.WebSocket):  # type: ignore[misc]
    """python-engineio's ASGI WebSocket wrapper, attaching the socket's queue for writes."""

    def __init__(self, handler: Any, server: Any, *, bounds: SendBounds) -> None:
        super().__init__(handler, server)
        self.bounds = bounds

    async def __call__(self, environ: dict[str, Any]) -> Any:
        """Serve the connection; direct writes are allowed while it lasts."""
        socket = getattr(self.handler, "__self__", None)
        queue = getattr(socket, "queue", None)
        writer = environ.get("asgi.scope", {}).get("extensions", {}).get(EXTENSION)
        if (
            socket is None
            or not isinstance(queue, DirectQueue)
            or not isinstance(writer, RawWriter)
        ):
            return await super().__call__(environ)
        writer.max_buffered_bytes = self.bounds.max_buffered_bytes
        if not socket.connected:
            # A WebSocket from the start (not an upgrade from polling): one task serves it.
            self.asgi_receive = environ["asgi.receive"]
            self.asgi_send = environ["asgi.send"]
            await self.asgi_send({"type": "websocket.accept"})
            _keep_only_what_connects_read(environ)
            await receive_packets(socket, self, queue, writer)
            return ""
        queue.attach(socket, writer)
        try:
            return await super().__call__(environ)
        finally:
            queue.detach()


# What a Socket.IO CONNECT on this connection reads (service.realtime.handlers: the login
# cookie), and the request's own coordinates.
_KEPT_ENVIRON = ("HTTP_COOKIE", "REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR")


def _keep_only_what_connects_read(environ: dict[str, Any]) -> None:
    """Trim the environ a WebSocket socket keeps for its life (python-socketio holds it).

    Once the connection is accepted python-engineio reads it no more (the upgrade check
    is done); a Socket.IO CONNECT, also a second one on the same connection, reads the
    cookie. The rest — every header, the ASGI callables — was 1.2 KiB per idle socket.
    The same dict object is kept (python-socketio and the handler's frames share it).
    """
    kept = {key: environ[key] for key in _KEPT_ENVIRON if key in environ}
    environ.clear()  # a cleared dict gives its table back; deleting keys would not
    environ.update(kept)


async def _lean_environ(translate: Any, scope: Any, receive: Any, send: Any) -> Any:
    """python-engineio's ASGI environ, without the request body reader on a WebSocket.

    The driver defines a reader class per request (`AwaitablePayload`, 2.4 KiB with its
    instance) and the environ keeps it for the connection's life; a WebSocket handshake
    has no body to read.
    """
    environ = await translate(scope, receive, send)
    if scope.get("type") == "websocket" and isinstance(environ, dict):
        environ.pop("wsgi.input", None)
    return environ


def enable_direct_writes(sio: Any, bounds: SendBounds) -> None:
    """Give the Socket.IO server's Engine.IO sockets direct queues and WebSocket writers.

    Relies on two hooks of python-engineio (checked by tests/realtime/test_direct.py):
    the server's `create_queue()` (public) and its `_async["websocket"]` wrapper class.
    """
    eio = sio.eio
    if not isinstance(getattr(eio, "_async", None), dict) or "websocket" not in eio._async:
        raise RuntimeError("python-engineio no longer has the _async['websocket'] hook")
    # The driver's dict is shared by every server of the process: replace, don't mutate.
    eio._async = {
        **eio._async,
        "websocket": partial(DirectWebSocket, bounds=bounds),
        "translate_request": partial(_lean_environ, eio._async["translate_request"]),
    }
    eio.create_queue = lambda *args, **kwargs: DirectQueue(bounds.max_queued_packets)
    schedule_pings(eio, Pings(eio.ping_interval))


def _is_connect_error(item: Any) -> bool:
    """Whether an Engine.IO packet carries a Socket.IO CONNECT_ERROR (a refused handshake)."""
    return (
        isinstance(item, eio_packet.Packet)
        and item.packet_type == eio_packet.MESSAGE
        and isinstance(item.data, str)
        and item.data[:1] == SOCKETIO_CONNECT_ERROR
    )
