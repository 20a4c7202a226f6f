"""A graceful shutdown on SIGTERM (or SIGINT) that ends within a bounded time.

uvicorn on its own stops listening and then closes every WebSocket at once with 1012,
before the events being handled have sent their acks (a message stored whose ack never
reached its sender: a client that retries stores it twice), and it waits for a held
long-poll until Engine.IO answers it (the ping interval, 25 s) or its graceful timeout
passes. `GracefulServer` runs these steps first, on a budget of `timeout` seconds from
the signal (`ZIZANY_SHUTDOWN_TIMEOUT_SECONDS`, default 10):

1. stop listening; new requests and handshakes on open connections get 503, new client
   events are not run (no ack) — `Drainable.begin_draining`;
2. wait for the events already received to finish and send their acks (until half the
   budget) — `Drainable.finish_events`;
3. close every socket: WebSockets with 1012 after what they have queued, held long-polls
   answered; each socket's disconnect cleanup runs (until 70 %) — `Drainable.close_sockets`;
   a client gets a second to answer the close frame, then its connection is dropped;
4. uvicorn's own shutdown for what is left (HTTP requests still running, until 80 %),
   then the lifespan's (Redis presence leases dropped, connections closed). The rest of
   the budget is for that and for the interpreter's exit (about a second).

A watchdog thread ends the process (status 1) when the budget is spent anyway.
After a graceful shutdown the process exits with status 0 (service.workers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from types import FrameType
from typing import Protocol

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("zizany.shutdown")

EVENTS_SHARE = 0.5  # of the budget, counted from the signal: events finish by then,
SOCKETS_SHARE = 0.7  # sockets are closed by then,
REQUESTS_SHARE = 0.8  # HTTP requests still running are cancelled then.
CLOSE_HANDSHAKE_SECONDS = 1.0  # how long a client has to answer the close frame
FORCED_EXIT_STATUS = 1


class Drainable(Protocol):
    """What the app does during a shutdown (service.app.App)."""

    def begin_draining(self) -> None:
        """Refuse new requests, handshakes and client events."""

    async def finish_events(self, deadline: float) -> None:
        """Wait until `deadline` (monotonic) for the client events already running."""

    async def close_sockets(self, deadline: float) -> None:
        """Close every socket of the process (cleanup included) by `deadline`."""


class GracefulServer(uvicorn.Server):
    """uvicorn's server, draining `app` within `timeout` seconds of the signal."""

    def __init__(self, config: uvicorn.Config, app: Drainable | None, *, timeout: float) -> None:
        super().__init__(config)
        self.app = app
        self.timeout = timeout
        self.signalled_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Note when the first signal arrived (the budget counts from it)."""
        if self.signalled_at is None:
            self.signalled_at = time.monotonic()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Drain, then uvicorn's shutdown; bounded by the watchdog."""
        started = self.signalled_at or time.monotonic()
        # Armed until the process ends (a daemon thread): it covers the exit too.
        _watchdog(started + self.timeout, self.timeout)
        log.info("shutting down within %.1f s", self.timeout)
        for server in getattr(self, "servers", ()):
            server.close()  # stop listening now (uvicorn does it again, harmlessly)
        if self.app is not None:
            self.app.begin_draining()
            await self.app.finish_events(started + EVENTS_SHARE * self.timeout)
            sockets_deadline = started + SOCKETS_SHARE * self.timeout
            await self.app.close_sockets(sockets_deadline)
            answered = time.monotonic() + CLOSE_HANDSHAKE_SECONDS
            await self._websockets_gone(min(sockets_deadline, answered))
        left = started + REQUESTS_SHARE * self.timeout - time.monotonic()
        self.config.timeout_graceful_shutdown = max(1, int(left))
        await super().shutdown(sockets)
        log.info("shut down in %.2f s", time.monotonic() - started)

    async def _websockets_gone(self, deadline: float) -> None:
        """Until every WebSocket finished its close handshake (or `deadline`); uvicorn
        ends the HTTP connections itself."""
        while time.monotonic() < deadline:
            connections = self.server_state.connections
            if not any(isinstance(c, WebSocketsSansIOProtocol) for c in connections):
                return
            await asyncio.sleep(0.02)


def _watchdog(at: float, budget: float) -> threading.Timer:
    """A timer that ends the process at the monotonic time `at`."""

    def expire() -> None:
        log.error("the shutdown took more than %.1f s: exiting now", budget)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(FORCED_EXIT_STATUS)

    timer = threading.Timer(max(0.0, at - time.monotonic()), expire)
    timer.daemon = True
    timer.start()
    return timer
