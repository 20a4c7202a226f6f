"""After the backplane lost broadcasts: drop the connections that may have missed some.

Socket.IO delivers at most once. When this process's pub/sub subscription had a gap
(Redis restarted, the listener reconnected) or another process reports broadcasts it
could not publish, the sockets connected before the gap may have missed events that
other processes sent to their rooms, and nothing else would tell them. This process then
closes those sockets' connections the way a lost connection closes: the WebSocket (or
the long-poll session) ends without an Engine.IO or Socket.IO disconnect packet, so
every Socket.IO client reconnects by itself (a server-initiated Socket.IO disconnect
would stop socket.io-client from reconnecting), joins its rooms again and reads what it
missed with `GET /api/channels/{id}/messages?after=` (the README's reconnect recipe;
`ZizanyClient(reconnect=True)` does it by itself).

The drops are spread at random over `spread` seconds, so a process's clients do not all
reconnect in the same instant; the clients' own reconnection delays add their jitter.
A socket that connected after the gap is left alone: it caught up when it joined.
Until it is dropped, a socket due to be dropped gets no room broadcasts (it is `muted`):
a live event newer than the gap would move its client's catch-up cursor past what it
missed.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from typing import Any

from service.realtime.fanout import DirectFanoutManager
from service.realtime.sockets import SocketIndex

log = logging.getLogger("zizany.realtime")

NAMESPACE = "/"
DEFAULT_SPREAD_SECONDS = 5.0


class Resync:
    """Drops this process's connections that may have missed broadcasts of others."""

    def __init__(self, sio: Any, index: SocketIndex, *, spread: float) -> None:
        self.sio = sio
        self.index = index
        self.spread = spread
        self.requests = 0
        """Gaps reported (each a `request`)."""
        self.dropped = 0
        """Connections this process dropped so that their clients catch up."""
        self._due: list[tuple[float, str]] = []  # a heap of (moment to drop, sid)
        self._queued: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def request(self, before: float, why: str) -> None:
        """Broadcasts may have been lost up to `before` (`time.monotonic()`): drop, each at
        a random moment of the next `spread` seconds, every socket connected before then."""
        self.requests += 1
        due = set(self.index.connected_before(before)) - self._queued
        log.warning(
            "broadcasts of other processes may have been lost (%s): dropping %d connection(s) "
            "within %.1f s so that their clients reconnect and catch up",
            why,
            len(due),
            self.spread,
        )
        now = time.monotonic()
        for sid in due:
            heapq.heappush(self._due, (now + random.uniform(0, self.spread), sid))
        self._queued |= due
        self._muted().update(due)
        if due and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._drop_due())

    async def _drop_due(self) -> None:
        while self._due:
            moment, sid = self._due[0]
            wait = moment - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # a later request may have queued an earlier moment
            heapq.heappop(self._due)
            self._queued.discard(sid)
            self._muted().discard(sid)
            try:
                if await self.drop(sid):
                    self.dropped += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dropping connection %s failed", sid)

    async def drop(self, sid: str) -> bool:
        """End socket `sid`'s connection as a lost connection ends (its client reconnects).

        python-engineio's `close(abort=True)` runs the usual disconnect (handlers,
        presence) without sending a CLOSE packet; the `None` on the socket's queue ends
        its writer, which closes the WebSocket or answers the pending long-poll, after
        which that session id is unknown. False when the socket is already gone.
        """
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, NAMESPACE)
        socket = self.sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
        if socket is None or socket.closed or socket.closing:
            return False
        await socket.close(wait=False, abort=True, reason=self.sio.eio.reason.TRANSPORT_CLOSE)
        socket.queue.put_nowait(None)
        return True

    async def stop(self) -> None:
        """Stop dropping (at shutdown)."""
        self._due.clear()
        self._muted().difference_update(self._queued)
        self._queued.clear()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _muted(self) -> set[str]:
        manager = self.sio.manager
        return manager.muted if isinstance(manager, DirectFanoutManager) else set()

    def counters(self) -> dict[str, int]:
        """Gaps reported and connections dropped for them."""
        return {"resync_requests": self.requests, "resync_connections_dropped": self.dropped}
