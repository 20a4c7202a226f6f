"""A read deadline for HTTP connections that have not completed a request (slowloris).

uvicorn closes a connection idle *between* requests (`timeout_keep_alive`), but one that
sends nothing, or half a request, it keeps forever. `with_read_deadline(seconds)` is
uvicorn's httptools protocol with a deadline armed when a connection opens and when a
request begins, and disarmed once the request is complete (headers and body) or the
connection upgrades to WebSocket: a connection still reading when it passes is answered
`408 Request Timeout` (`Connection: close`) and closed. A long-poll is not affected: its
request is complete as soon as its headers are.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("zizany.transport")

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 24\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"request not read in time"
)


class ReadDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol whose requests must arrive within `read_timeout` seconds."""

    read_timeout: float = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.debug("closing connection from %s: request not read in time", self.client)
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


def with_read_deadline(seconds: float) -> type[ReadDeadlineProtocol]:
    """The protocol class for `uvicorn.Config(http=...)` with a read deadline of `seconds`."""
    return type("ReadDeadlineProtocol", (ReadDeadlineProtocol,), {"read_timeout": seconds})
