"""Where logs and metrics get their context and figures without touching the adapters.

- `ObserveMiddleware` (outermost ASGI middleware): the request id of every HTTP request
  and WebSocket (service.logs), HTTP request counts and durations per route template,
  and, during the lifespan, the periodic mirror of the real-time side's own counters.
- `SocketObserver`: told of every connect, disconnect and client event by the real-time
  side (`Realtime.observe`: the dispatcher's observer hook and a catch-all handler, both
  public; nothing of python-socketio is wrapped). Around each event it sets the socket
  context for logs and records the handshake result, the connected sockets, the event's
  result code and its ack latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contract_runtime.observer import CONNECT, DISCONNECT, EventDone
from service import logs, metrics
from service.realtime.assembly import Realtime
from service.settings import Settings

log = logging.getLogger("zizany.observe")

MIRROR_INTERVAL_SECONDS = 5.0

Counts = Callable[[], Mapping[str, int]]


class ObserveMiddleware:
    """Request ids for every request; HTTP metrics and the counts mirror when metrics are on."""

    def __init__(self, app: ASGIApp, *, counts: Counts | None = None) -> None:
        self.app = logs.RequestIdMiddleware(app)
        self.counts = counts
        self.mirror = metrics.CountsMirror()

    def sync(self) -> None:
        """Mirror the real-time counts now (before a scrape, and every few seconds)."""
        if self.counts is not None:
            self.mirror.update(self.counts())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] == "http" and metrics.enabled():
            await self._timed(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics.http_request(
                scope["method"], _route_of(scope), status, time.perf_counter() - started
            )

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        task: asyncio.Task[None] | None = None

        async def send_started(message: Message) -> None:
            nonlocal task
            if message["type"] == "lifespan.startup.complete" and self._mirroring():
                task = asyncio.get_running_loop().create_task(self._mirror_loop())
            await send(message)

        try:
            await self.app(scope, receive, send_started)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _mirroring(self) -> bool:
        return self.counts is not None and metrics.enabled()

    async def _mirror_loop(self) -> None:
        while True:
            await asyncio.sleep(MIRROR_INTERVAL_SECONDS)
            try:
                self.sync()
            except Exception:
                log.exception("mirroring the real-time counters failed")


def observe(
    api: FastAPI, app: ASGIApp, settings: Settings, realtime: Realtime | None
) -> ObserveMiddleware:
    """`app` (REST and Socket.IO) with request ids, HTTP metrics and the socket hooks.

    Reaches the real-time side only through what it exposes: `observe()`, `counters()`
    and the dispatcher's principals (for the user id in the logs).
    """
    if settings.metrics:
        metrics.enable()
    counts: Counts | None = None
    if realtime is not None:
        counts = realtime.counters
        principals = realtime.dispatcher.principals

        def user_of(sid: str) -> int | None:
            principal = principals.get(sid)
            return None if principal is None else principal.user_id

        realtime.observe(SocketObserver(user_of))
    observed = ObserveMiddleware(app, counts=counts)
    api.state.sync_metrics = observed.sync
    return observed


def _route_of(scope: Scope) -> str:
    """The route template that answered (bounded), `/socket.io`, or `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if str(scope.get("path", "")).startswith("/socket.io"):
        return "/socket.io"
    return "unmatched"


class SocketObserver:
    """Log context and metrics for every Socket.IO connection and client event.

    Plugged into the real-time side with `Realtime.observe` (the dispatcher's observer, see
    contract_runtime.observer, plus the events no handler takes). Around each event it sets
    the socket context for logs; when metrics are on it records the handshake result, the
    connected sockets, the event's result code and its ack latency (arrival to ack).
    """

    def __init__(self, user_of: Callable[[str], int | None]) -> None:
        self.user_of = user_of
        self.accepted: set[str] = set()

    def event_started(self, sid: str, event: str) -> EventDone:
        """Set the log context; the callback records the outcome and resets the context."""
        # Set and reset inline (no context manager): this runs for every client event.
        tokens = (
            logs.socket_id.set(sid),
            logs.user_id.set(self.user_of(sid)),
            logs.event.set(event),
        )
        timed = metrics.enabled() and event != CONNECT and event != DISCONNECT
        started = time.perf_counter() if timed else 0.0

        def done(code: str | None) -> None:
            try:
                if timed:
                    metrics.event_handled(event, code, time.perf_counter() - started)
                elif event == CONNECT and code is not None:
                    metrics.handshake_refused(code)
                    log.info("socket refused: %s", metrics.code_label(code))
            finally:
                logs.event.reset(tokens[2])
                logs.user_id.reset(tokens[1])
                logs.socket_id.reset(tokens[0])

        return done

    def connected(self, sid: str) -> None:
        """One more connected socket; its user is known from now on (log context)."""
        self.accepted.add(sid)
        metrics.socket_connected()
        logs.user_id.set(self.user_of(sid))
        log.info("socket connected")

    def disconnected(self, sid: str) -> None:
        """One connected socket fewer."""
        if sid in self.accepted:
            self.accepted.discard(sid)
            metrics.socket_disconnected()
            log.info("socket disconnected")

    def unhandled(self, sid: str, event: str) -> None:
        """A client may send any event name: those no handler takes count as `other`."""
        metrics.event_handled(metrics.OTHER, metrics.OTHER, 0.0)
