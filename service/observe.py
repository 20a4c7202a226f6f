"""Where logs and metrics get their context and figures without touching the adapters.

- `ObserveMiddleware` (outermost ASGI middleware): the request id of every HTTP request
  and WebSocket (service.logs), HTTP request counts and durations per route template,
  and, during the lifespan, the periodic mirror of the real-time side's own counters.
- `observe_sockets(sio, user_of)`: wraps the python-socketio server's event trigger, the
  one place every connect, disconnect and client event passes through, whoever registers
  the handlers. Around each event it sets the socket context for logs and records the
  handshake result, the connected sockets, the event's result code and its ack latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import socketio
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    Reaches the real-time side only through what it exposes: its AsyncServer (`sio`),
    its `counters()` and the dispatcher's principals (for the user id in the logs).
    """
    if settings.metrics:
        metrics.enable()
    counts: Counts | None = None
    if realtime is not None:
        counts = realtime.counters
        principals: Mapping[str, Any] = realtime.dispatcher.principals
        observe_sockets(realtime.hub.sio, lambda sid: getattr(principals.get(sid), "user_id", None))
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


def observe_sockets(sio: socketio.AsyncServer, user_of: Callable[[str], int | None]) -> None:
    """Log context and metrics around every Socket.IO event `sio` triggers (see module doc)."""
    trigger = sio._trigger_event
    accepted: set[str] = set()

    def known(name: str, namespace: str) -> str:
        # A client may send any event name: only handled ones become a label.
        return name if name in sio.handlers.get(namespace or "/", {}) else metrics.OTHER

    async def traced(name: str, namespace: str, *args: Any) -> Any:
        sid = args[0] if args and isinstance(args[0], str) else None
        if sid is None:
            return await trigger(name, namespace, *args)
        label = known(name, namespace)
        # Set and reset inline (no context manager): this runs for every client event.
        tokens = (logs.socket_id.set(sid), logs.user_id.set(user_of(sid)), logs.event.set(label))
        try:
            if name == "connect":
                return await _connect(trigger, accepted, sid, user_of, name, namespace, *args)
            if name == "disconnect":
                return await _disconnect(trigger, accepted, sid, name, namespace, *args)
            if not metrics.enabled():
                return await trigger(name, namespace, *args)
            started = time.perf_counter()
            code: str | None = "E_INTERNAL"
            try:
                result = await trigger(name, namespace, *args)
                # No handler: python-socketio ignores the event (no ack); counted as other.
                code = metrics.OTHER if result is sio.not_handled else _ack_code(result)
                return result
            finally:
                metrics.event_handled(label, code, time.perf_counter() - started)
        finally:
            logs.event.reset(tokens[2])
            logs.user_id.reset(tokens[1])
            logs.socket_id.reset(tokens[0])

    sio._trigger_event = traced


async def _connect(
    trigger: Callable[..., Any],
    accepted: set[str],
    sid: str,
    user_of: Callable[[str], int | None],
    name: str,
    namespace: str,
    *args: Any,
) -> Any:
    try:
        result = await trigger(name, namespace, *args)
    except socketio.exceptions.ConnectionRefusedError as exc:
        reason = exc.error_args.get("message") if isinstance(exc.error_args, dict) else None
        code = metrics.code_label(str(reason))
        metrics.handshake_refused(code)
        log.info("socket refused: %s", code)
        raise
    if result is False:
        metrics.handshake_refused(metrics.OTHER)
        log.info("socket refused")
        return result
    accepted.add(sid)
    metrics.socket_connected()
    logs.user_id.set(user_of(sid))  # known once authenticated
    log.info("socket connected")
    return result


async def _disconnect(
    trigger: Callable[..., Any], accepted: set[str], sid: str, name: str, namespace: str, *args: Any
) -> Any:
    try:
        return await trigger(name, namespace, *args)
    finally:
        if sid in accepted:
            accepted.discard(sid)
            metrics.socket_disconnected()
            log.info("socket disconnected")


def _ack_code(result: Any) -> str | None:
    """None for an ok ack (or none at all), else the failed ack's code."""
    if isinstance(result, dict) and result.get("ok") is False:
        code = result.get("code")
        return code if isinstance(code, str) else "E_INTERNAL"
    return None
