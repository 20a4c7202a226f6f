"""`RedisBackplane`: the shared state of one of several processes, started and stopped."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from service.realtime.backplane import Announcements, Control
from service.realtime.redis_common import REDIS_ERRORS
from service.realtime.redis_counters import RedisSlidingWindow
from service.realtime.redis_presence import RedisPresence
from service.realtime.redis_typing import RedisTypingStore
from service.realtime.scaleout.manager import ZizanyRedisManager
from service.settings import Settings

log = logging.getLogger("zizany.scaleout")

# The contract's bound from a process's death to its users' `presence:update`.
OFFLINE_BOUND_SECONDS = 45.0


def instance_id(settings: Settings) -> str:
    """This process's stable identity: `ZIZANY_INSTANCE_ID`, else `host:port`.

    `host:port` is stable across restarts of the same process and unique on one host.
    """
    return settings.instance_id or f"{socket.gethostname()}:{settings.port}"


class RedisBackplane:
    """Starts, runs and stops the shared state of one process; implements `Backplane`."""

    def __init__(
        self,
        *,
        manager: ZizanyRedisManager,
        presence: RedisPresence,
        typing_store: RedisTypingStore,
        counters: Iterable[RedisSlidingWindow],
    ) -> None:
        self.manager = manager
        self.presence = presence
        self.typing_store = typing_store
        self.rate_counters = list(counters)
        self._announcements: Announcements | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._cleared = False
        self._pending: set[int] = set()  # users whose presence:update still has to go out
        self.loop_failures = 0

    async def start(self, control: Control, announcements: Announcements) -> None:
        """Clear this process id's previous life, then refresh and sweep periodically."""
        self._announcements = announcements
        self.manager.on_control = control.apply_control
        self.manager.on_gap = control.resync
        try:
            await self._clear_previous_life()
        except REDIS_ERRORS as exc:
            log.error("Redis unreachable at start (%r): presence catches up once it answers", exc)
        presence = self.presence
        self._tasks = [
            asyncio.create_task(self._every(presence.refresh_interval, self._refresh)),
            asyncio.create_task(self._every(presence.sweep_interval, self._sweep)),
        ]
        log.info(
            "scale-out on Redis as %r (prefix %r): leases %.0f s, refresh %.0f s, sweep %.0f s; "
            "a dead process's users go offline within %.0f s",
            presence.process_id,
            presence.prefix,
            presence.lease_ttl,
            presence.refresh_interval,
            presence.sweep_interval,
            presence.offline_bound,
        )

    async def stop(self) -> None:
        """Stop the loops, drop this process's leases (announced), close the listener.

        The Redis client the parts share is closed by the lifespan, after this.
        """
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            await self._announce(await self.presence.clear_process())
        except Exception:
            log.exception("this process's leases were not dropped; they expire by themselves")
        await self.manager.close()

    async def publish(self, op: dict[str, Any]) -> None:
        """Send a control operation to the other processes."""
        await self.manager.publish_control(op)

    def counters(self) -> dict[str, int]:
        """Broadcast publishing, pub/sub state, presence loops and rate-limit fallbacks."""
        return {
            "broadcasts_published": self.manager.published,
            "broadcast_publish_failures": self.manager.publish_failures,
            "pubsub_subscribed": int(self.manager.subscribed),
            "pubsub_resubscriptions": self.manager.resubscriptions,
            "pubsub_gaps": self.manager.gaps,
            "presence_loop_failures": self.loop_failures,
            "rate_limit_local_fallbacks": sum(c.fallbacks for c in self.rate_counters),
        }

    async def _clear_previous_life(self) -> None:
        gone = await self.presence.clear_process()
        self._cleared = True
        if gone:
            log.info("cleared the leases of a previous life of %r", self.presence.process_id)
        await self._announce(gone)

    async def _refresh(self) -> None:
        if not self._cleared:
            await self._clear_previous_life()
        await self._announce(await self.presence.refresh())

    async def _sweep(self) -> None:
        await self._announce(await self.presence.sweep())
        assert self._announcements is not None
        for change in await self.typing_store.sweep():
            await self._announcements.announce_typing(change)

    async def _announce(self, user_ids: set[int]) -> None:
        """`presence:update` for these users' servers; kept for the next round if it fails."""
        self._pending |= user_ids
        if not self._pending or self._announcements is None:
            return
        pending = set(self._pending)
        await self._announcements.announce_presence_of(pending)
        self._pending -= pending

    async def _every(self, interval: float, step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        name = step.__name__.strip("_")
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.loop_failures += 1
                # Once per outage at WARNING; the retries every `interval` at DEBUG.
                log.log(
                    logging.DEBUG if failing else logging.WARNING,
                    "presence %s failed (%r); retrying every %.0f s",
                    name,
                    exc,
                    interval,
                )
                failing = True
            else:
                if failing:
                    log.warning("presence %s works again", name)
                failing = False
