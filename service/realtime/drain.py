"""The Socket.IO side of a graceful shutdown: finish the events received, then close.

`SocketDrain(sio)` hooks into the python-socketio server once, at start:

- every client event handler python-socketio starts (one task per event, the ack sent
  at its end) is tracked until it ends;
- once `begin()` was called, an event that arrives is not run: it gets no ack (the
  client sees its socket close with 1012 and sends it again once reconnected), so a
  message is either stored and acknowledged, or neither.

`finish_events(deadline)` waits for the tracked handlers (their acks are queued or
written when they end); `close_sockets(deadline)` then ends every Engine.IO socket of the
process: a WebSocket's writer sends what is still queued, then the close frame (the
transport guards give it code 1012, Service Restart); a long-poll held open is answered
with an Engine.IO NOOP, and the session is gone for the next one, so both client
libraries reconnect. Each socket's disconnect handler (typing, presence, the Redis
lease) runs as for any disconnect. Neither sends a Socket.IO DISCONNECT: a client told
"io server disconnect" would not reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import socketio
from engineio import packet as eio_packet

log = logging.getLogger("zizany.shutdown")

_EVENT_TASK = "_handle_event_internal"  # what python-socketio runs per client event


class SocketDrain:
    """Tracks the event handlers of `sio`; refuses new events once draining."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio
        self.draining = False
        self.in_flight: set[asyncio.Future[Any]] = set()
        self.refused = 0
        self._install()

    def _install(self) -> None:
        sio = self.sio
        start_task = sio.start_background_task
        handle_event = sio._handle_event

        def tracked_start(target: Any, *args: Any, **kwargs: Any) -> Any:
            task = start_task(target, *args, **kwargs)
            if getattr(target, "__name__", None) == _EVENT_TASK:
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)
            return task

        async def gated_event(eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
            if self.draining:
                self.refused += 1
                return
            await handle_event(eio_sid, namespace, id, data)

        sio.start_background_task = tracked_start
        sio._handle_event = gated_event

    def begin(self) -> None:
        """Refuse every client event from now on (the ones already running go on)."""
        self.draining = True

    async def finish_events(self, deadline: float) -> int:
        """Wait (until the monotonic `deadline`) for the running handlers; how many were
        still running when it passed (their acks are not sent)."""
        pending = set(self.in_flight)
        count = len(pending)
        if pending:
            _, still = await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            if still:
                log.warning(
                    "%d of %d client events did not finish in time; their acks are not sent",
                    len(still),
                    count,
                )
                return len(still)
        log.info("client events finished: %d were running, %d refused since", count, self.refused)
        return 0

    async def close_sockets(self, deadline: float) -> int:
        """End every Engine.IO socket (see the module doc); how many were closed."""
        eio = self.sio.eio
        closed = 0
        while eio.sockets and time.monotonic() < deadline:
            # Taken out first: a request for one of them now finds no session (400).
            sockets = [eio.sockets.pop(sid) for sid in list(eio.sockets)]
            closing = [asyncio.ensure_future(_close(socket)) for socket in sockets]
            _, late = await asyncio.wait(closing, timeout=max(0.0, deadline - time.monotonic()))
            for task in late:
                task.cancel()
            closed += len(sockets)
        return closed


async def _close(socket: Any) -> None:
    """End the socket's transport after what it has queued, then run its disconnect."""
    if socket.closed:
        return
    if not socket.upgraded:  # a long-poll: answer the one held (or the next) at once
        socket.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))
    socket.queue.put_nowait(None)  # the WebSocket writer sends what is queued, then closes
    try:
        await socket.close(wait=False, abort=True, reason=socket.server.reason.SERVER_DISCONNECT)
    except Exception:
        log.exception("closing socket %s failed", getattr(socket, "sid", "?"))
