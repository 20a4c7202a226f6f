"""At most one `presence:update` per server room per interval for a flapping user.

Connects and disconnects call `announce(server_id)`. The first one for a server is sent at
once; any later one within `interval` seconds of the last send is folded into one send at
the end of the interval, which reads the presence state then: whatever happened in the
interval, the last update a room gets shows the state after the last change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("zizany.realtime")

# Past this many servers remembered, the ones whose interval is over are forgotten.
_PRUNE_ABOVE = 10_000


class PresenceCoalescer:
    """Sends `presence:update` for a server at most once per `interval` (0: every time)."""

    def __init__(
        self,
        send: Callable[[int], Awaitable[None]],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.send = send
        self.interval = interval
        self.clock = clock
        self._last: dict[int, float] = {}  # server id → when its last update was sent
        self._pending: dict[int, asyncio.Task[None]] = {}
        self.coalesced = 0  # announcements folded into a later send

    async def announce(self, server_id: int) -> None:
        """The server's presence changed: send now, or once at the end of its interval."""
        if self.claim(server_id):
            await self.send(server_id)

    def claim(self, server_id: int) -> bool:
        """The server's presence changed. True: the caller sends it now (with the state it
        read); False: it is folded into one send at the end of the server's interval."""
        if self.interval <= 0:
            return True
        if server_id in self._pending:
            self.coalesced += 1
            return False
        now = self.clock()
        last = self._last.get(server_id)
        if last is None or now - last >= self.interval:
            self._remember(server_id, now)
            return True
        self.coalesced += 1
        delay = last + self.interval - now
        self._pending[server_id] = asyncio.create_task(self._later(server_id, delay))
        return False

    async def _later(self, server_id: int, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            self._remember(server_id, self.clock())
            await self.send(server_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("presence:update for server %s failed", server_id)
        finally:
            self._pending.pop(server_id, None)

    def _remember(self, server_id: int, now: float) -> None:
        self._last[server_id] = now
        if len(self._last) > _PRUNE_ABOVE:
            for key in [k for k, t in self._last.items() if now - t >= self.interval]:
                del self._last[key]

    async def flush(self) -> None:
        """Send every pending update now (at shutdown), so no room keeps a stale state."""
        pending = list(self._pending.items())
        for _, task in pending:
            task.cancel()
        for server_id, task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            try:
                await self.send(server_id)
            except Exception:
                log.exception("presence:update for server %s failed", server_id)
