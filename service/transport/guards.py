"""Transport guards in front of Engine.IO: a pure ASGI middleware around the whole app.

What python-engineio does not bound by itself, answered here before it gets there:

- **Polling bodies.** A POST announcing more than `max_body_bytes` is answered 413 at
  once (Engine.IO itself waits forever for the session's queue to drain and never
  answers); a streamed (chunked) body is counted and answered 413 as soon as it passes
  the limit. Bodies under the limit are read here and handed on whole, with their length.
- **Overlapping polls.** A second GET poll on a session that has one open is answered
  400 (Engine.IO holds both until the ping timeout).
- **Packets.** Every packet a client sends (WebSocket frame, polling record) goes through
  `service.transport.frames.check_packet`: undecodable or too-deep event payloads reach
  their handler as an invalid payload (`error:validation`), anything that cannot be
  attributed to an event closes the connection — a WebSocket with a close frame, a
  polling session with an Engine.IO CLOSE handed to Engine.IO (so the server's cleanup,
  presence and typing, runs as for any disconnect).
- **Refused handshakes.** When the server refuses a Socket.IO CONNECT (`CONNECT_ERROR`,
  e.g. no session cookie), the connection is closed right after the refusal is sent.
- **Shutting down** (`begin_draining()`, service.shutdown): every new request and
  WebSocket handshake is answered `503` (`Retry-After`), except the polling requests of
  a session already open (they carry its last acks and its end); the WebSockets the
  server closes from then on close with code 1012 (Service Restart).

Each connection logs at most one warning (its first bad packet); the rest go to debug.
Polling sessions that never poll or upgrade are closed by Engine.IO itself after
`ping_interval + ping_timeout` (25 s + 20 s): every ping it queues goes unanswered.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.settings import Settings
from service.transport.frames import (
    BINARY_REFUSED,
    ENGINEIO_MESSAGE,
    SOCKETIO_CONNECT_ERROR,
    check_packet,
)
from service.transport.logs import use_one_log_handler

log = logging.getLogger("zizany.transport")

ENGINEIO_PATH = "/socket.io/"
RECORD_SEPARATOR = "\x1e"  # between the packets of a polling body
CLOSE_POLICY = 1008  # WebSocket close codes: policy violation,
CLOSE_UNSUPPORTED = 1003  # unsupported data (binary),
CLOSE_TOO_BIG = 1009  # message too big
CLOSE_RESTART = 1012  # and service restart (a graceful shutdown)
RETRY_AFTER_SECONDS = 1
# Sessions remembered as already warned about (bounded: oldest forgotten first).
_MAX_WARNED = 10_000


def guarded(app: ASGIApp, settings: Settings) -> TransportGuards:
    """`app` behind the transport guards; the Socket.IO libraries log through one handler."""
    use_one_log_handler()
    return TransportGuards(
        app, max_body_bytes=settings.max_body_bytes, max_depth=settings.max_payload_depth
    )


class TransportGuards:
    """The ASGI middleware; everything outside the Engine.IO path passes untouched."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth
        self._open_polls: set[str] = set()
        self._warned: OrderedDict[str, None] = OrderedDict()
        self.draining = False

    def begin_draining(self) -> None:
        """Refuse new requests and handshakes; server-side WebSocket closes say 1012."""
        self.draining = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.draining and scope["type"] in ("http", "websocket") and not _open_poll(scope):
            await _refuse_draining(scope, receive, send)
        elif scope["type"] not in ("http", "websocket") or not _is_engineio(scope):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["method"] == "POST":
            await self._post(scope, receive, send)
        elif scope["method"] == "GET" and _sid(scope) is not None:
            await self._poll(scope, receive, send, _sid(scope) or "")
        else:
            await self.app(scope, receive, send)

    # ---- polling -------------------------------------------------------------------------

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A polling body: bounded, checked packet by packet, handed on whole."""
        if declared_length(scope) > self.max_body_bytes:
            await _answer(send, 413, "E_PAYLOAD_TOO_LARGE", self._too_large())
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _answer(send, 413, "E_PAYLOAD_TOO_LARGE", self._too_large())
                return
            if not message.get("more_body", False):
                break
        sid = _sid(scope)
        if sid is None:  # Engine.IO answers it (400 invalid session)
            await self.app(_with_length(scope, len(body)), _replay(bytes(body), receive), send)
            return
        packets, problem = self._check_body(bytes(body))
        if packets is None:
            self._warn(sid, "closing polling session %s from %s: %s", sid, _peer(scope), problem)
            await self._close_session(scope, sid)
            await _answer(send, 400, "E_VALIDATION", f"session closed: {problem}")
            return
        if problem is not None:
            self._warn(
                sid, "invalid payload on polling session %s from %s: %s", sid, _peer(scope), problem
            )
        new_body = RECORD_SEPARATOR.join(packets).encode()
        await self.app(_with_length(scope, len(new_body)), _replay(new_body, receive), send)

    def _check_body(self, body: bytes) -> tuple[list[str] | None, str | None]:
        """(the packets to hand on, a problem worth a warning), or (None, why to close)."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None, "polling body is not UTF-8"
        packets: list[str] = []
        problem: str | None = None
        dropping = 0
        for record in text.split(RECORD_SEPARATOR):
            if dropping and record.startswith("b"):
                dropping -= 1  # an attachment of a binary event already answered: dropped
                continue
            verdict = check_packet(record, max_depth=self.max_depth)
            dropping += verdict.attachments
            if verdict.packet is None:
                return None, verdict.problem
            problem = problem or verdict.problem
            packets.append(verdict.packet)
        return packets, problem

    async def _poll(self, scope: Scope, receive: Receive, send: Send, sid: str) -> None:
        """A GET poll: one open per session; a refused handshake in the answer closes it."""
        if sid in self._open_polls:
            await _answer(send, 400, "E_VALIDATION", "a poll is already open for this session")
            return
        refused = False

        async def watching_send(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                refused = refused or any(
                    _is_refusal(record)
                    for record in body.decode("utf-8", "replace").split(RECORD_SEPARATOR)
                )
            await send(message)

        self._open_polls.add(sid)
        try:
            await self.app(scope, receive, watching_send)
        finally:
            self._open_polls.discard(sid)
        if refused:
            log.info("closing polling session %s from %s: handshake refused", sid, _peer(scope))
            await self._close_session(scope, sid)

    async def _close_session(self, scope: Scope, sid: str) -> None:
        """Close an Engine.IO polling session as its client would: a CLOSE packet.

        Engine.IO then runs the disconnect (presence, typing) as for any client that leaves.
        """
        close_scope = dict(scope)
        close_scope["method"] = "POST"
        close_scope["headers"] = [
            (name, value)
            for name, value in scope.get("headers", ())
            if name not in (b"content-length", b"transfer-encoding", b"upgrade")
        ] + [(b"content-length", b"1"), (b"content-type", b"text/plain;charset=UTF-8")]

        async def discard(_message: Message) -> None:
            return None

        try:
            await self.app(close_scope, _replay(b"1", _disconnected), discard)
        except Exception:
            log.exception("closing polling session %s failed", sid)

    # ---- WebSocket -----------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Frames checked on the way in; a refused handshake or a bad frame closes the socket."""
        guard = _GuardedWebSocket(self, receive, send, _peer(scope))
        await self.app(scope, guard.receive, guard.send)

    # ---- helpers -------------------------------------------------------------------------

    def _too_large(self) -> str:
        return f"request body over {self.max_body_bytes} bytes"

    def _warn(self, sid: str, message: str, *args: Any) -> None:
        """A warning the first time for a session, debug afterwards."""
        if sid in self._warned:
            log.debug(message, *args)
            return
        self._warned[sid] = None
        while len(self._warned) > _MAX_WARNED:
            self._warned.popitem(last=False)
        log.warning(message, *args)


class _GuardedWebSocket:
    """One WebSocket's guard: its frames checked on the way in, its close sent once.

    One slotted object per connection (it lives as long as the socket): closures over
    the same state took 2.3 KiB per idle socket.
    """

    __slots__ = ("_closing", "_dropping", "_guards", "_peer", "_receive", "_send", "_warned")

    def __init__(self, guards: TransportGuards, receive: Receive, send: Send, peer: str) -> None:
        self._guards = guards
        self._receive = receive
        self._send = send
        self._peer = peer
        self._closing = False
        self._warned = False
        self._dropping = 0  # binary frames still to drop (attachments of a refused event)

    async def receive(self) -> Message:
        if self._closing:
            return {"type": "websocket.disconnect", "code": CLOSE_POLICY}
        message = await self._receive()
        while self._dropping and message["type"] == "websocket.receive" and _binary(message):
            self._dropping -= 1  # an attachment of the binary event already answered: dropped
            message = await self._receive()
        if message["type"] != "websocket.receive":
            return message
        text = message.get("text")
        if text is None:
            return await self._refuse(CLOSE_UNSUPPORTED, BINARY_REFUSED)
        limit = self._guards.max_body_bytes
        if len(text) > limit:
            return await self._refuse(CLOSE_TOO_BIG, f"frame over {limit} characters")
        verdict = check_packet(text, max_depth=self._guards.max_depth)
        if verdict.packet is None:
            problem = verdict.problem or "invalid packet"
            code = CLOSE_UNSUPPORTED if verdict.binary else CLOSE_POLICY
            return await self._refuse(code, problem)
        if verdict.problem is not None:
            self._warn(verdict.problem, closed=False)
            self._dropping += verdict.attachments
            return {"type": "websocket.receive", "text": verdict.packet}
        return message

    async def send(self, message: Message) -> None:
        if self._closing:
            return  # the close frame went out; Engine.IO is told on its next receive
        if message["type"] == "websocket.close" and self._guards.draining:
            message = {"type": "websocket.close", "code": CLOSE_RESTART, "reason": "restart"}
        await self._send(message)
        if message["type"] == "websocket.send" and _is_refusal(message.get("text")):
            log.info("closing WebSocket from %s: handshake refused", self._peer)
            await self._close(CLOSE_POLICY, "handshake refused")

    async def _close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason[:120]})
        except Exception:  # the client is gone already
            log.debug("close frame to %s not sent", self._peer, exc_info=True)

    def _warn(self, problem: str | None, closed: bool) -> None:
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        verb = "closing WebSocket" if closed else "invalid payload on WebSocket"
        log.log(level, "%s from %s: %s", verb, self._peer, problem)

    async def _refuse(self, code: int, problem: str) -> Message:
        self._warn(problem, closed=True)
        await self._close(code, problem)
        return {"type": "websocket.disconnect", "code": code}


def _binary(message: Message) -> bool:
    return message.get("text") is None


def _is_engineio(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return (path if path.endswith("/") else path + "/").startswith(ENGINEIO_PATH)


def _is_refusal(packet: str | None) -> bool:
    """Whether a packet the server sends is a Socket.IO CONNECT_ERROR."""
    return packet is not None and packet.startswith(ENGINEIO_MESSAGE + SOCKETIO_CONNECT_ERROR)


def _open_poll(scope: Scope) -> bool:
    """Whether this is a polling request of an Engine.IO session (it has a sid)."""
    return scope["type"] == "http" and _is_engineio(scope) and _sid(scope) is not None


async def _refuse_draining(scope: Scope, receive: Receive, send: Send) -> None:
    """503 to a request or WebSocket handshake that arrives during a shutdown."""
    message = "the server is shutting down; try again shortly"
    if scope["type"] == "http":
        await _answer(send, 503, "E_INTERNAL", message, retry_after=RETRY_AFTER_SECONDS)
        return
    await receive()  # websocket.connect
    body = orjson.dumps({"code": "E_INTERNAL", "message": message})
    await send(
        {
            "type": "websocket.http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            ],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


def _sid(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    values = parse_qs(query).get("sid")
    return values[0] if values else None


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "?"


def declared_length(scope: Scope) -> int:
    """The Content-Length the client declared, or -1 (absent or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return -1


def _with_length(scope: Scope, length: int) -> Scope:
    """The scope with its body's real length (the body was read, maybe rewritten)."""
    headers = [
        (name, value)
        for name, value in scope.get("headers", ())
        if name not in (b"content-length", b"transfer-encoding")
    ]
    headers.append((b"content-length", str(length).encode()))
    return {**scope, "headers": headers}


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that yields `body` whole once, then defers to `receive`."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


async def _answer(
    send: Send, status: int, code: str, message: str, *, retry_after: int | None = None
) -> None:
    """A JSON error in the contract's shape; the connection closes after it."""
    body = orjson.dumps({"code": code, "message": message})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
