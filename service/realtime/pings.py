"""One timer for every Engine.IO socket's next ping, instead of a sleeping task per socket.

python-engineio schedules each socket's next ping (`AsyncSocket.schedule_ping`, after
every pong) as a background task that sleeps `ping_interval` and sends it: one task and
one timer handle alive per socket at all times, 1.5 KiB of an idle socket, and a task to
create, schedule and finish per socket every 25 s. Every ping is due `ping_interval`
after it was scheduled, so the sockets wait in the order they were scheduled: a deque,
and one `call_at` for the earliest.

`schedule_pings(eio, pings)` makes the server hand its `_send_ping` tasks to `pings`. What
the task did after its sleep is kept: a socket that is closing or closed gets no ping; one
that is open has `last_ping` set (python-engineio's ping timeout starts there) and its
PING packet put in its queue, as `AsyncSocket.send` would (its timeout check cannot fail
right after `last_ping` was set).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import weakref
from typing import Any

from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket

log = logging.getLogger("zizany.realtime")


class Pings:
    """The sockets waiting for their next ping, earliest first, and the one timer."""

    __slots__ = ("_due", "_handle", "interval", "sent")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        # Weak: a socket that closed meanwhile is not kept alive for up to ping_interval.
        self._due: collections.deque[tuple[float, weakref.ref[Any]]] = collections.deque()
        self._handle: asyncio.TimerHandle | None = None
        self.sent = 0

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, socket: Any) -> None:
        """Ping `socket` `interval` seconds from now."""
        loop = asyncio.get_running_loop()
        self._due.append((loop.time() + self.interval, weakref.ref(socket)))
        if self._handle is None:
            self._handle = loop.call_at(self._due[0][0], self._fire)

    def _fire(self) -> None:
        loop = asyncio.get_running_loop()
        self._handle = None
        due = self._due
        now = loop.time()
        while due and due[0][0] <= now:
            _, ref = due.popleft()
            socket = ref()
            if socket is None:
                continue
            try:
                self._ping(socket)
            except Exception:  # one socket's failure must not stop everyone's pings
                log.exception("ping to Engine.IO socket %s failed", getattr(socket, "sid", "?"))
        if due:
            self._handle = loop.call_at(due[0][0], self._fire)

    def _ping(self, socket: Any) -> None:
        if socket.closing or socket.closed:
            return
        socket.last_ping = time.time()
        socket.queue.put_nowait(eio_packet.Packet(eio_packet.PING))
        self.sent += 1


def schedule_pings(eio: Any, pings: Pings) -> None:
    """Route the Engine.IO server's per-socket ping tasks to `pings` (module doc)."""
    start = eio.start_background_task

    def start_background_task(target: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(target, "__func__", None) is AsyncSocket._send_ping and not args and not kwargs:
            pings.schedule(target.__self__)
            return None
        return start(target, *args, **kwargs)

    eio.start_background_task = start_background_task
