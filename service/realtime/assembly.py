"""The real-time side of one process, put together from its parts (one way, no cycles).

hub (AsyncServer, emitter) ← sockets (index) ← announcer (presence, typing) ← broadcaster
(the notifier) ← handlers (adapters over service.chat) ← here (binds the dispatcher).
`Implementations` lets a test swap one part for a deliberately broken subclass.
`Realtime.observe` plugs in what watches every client event (service.observe: metrics, logs).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import socketio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract_runtime.observer import DispatchObserver
from generated.realtime.router import bind
from service.auth.throttle import SlidingWindowCounter
from service.chat.domain import Chat
from service.chat.notifier import Guarded
from service.chat.parts import ChatParts
from service.chat.saturation import Saturation
from service.db.message_writer import MessageWriter
from service.limits import EventLimits
from service.realtime.announcer import Announcer
from service.realtime.backplane import Backplane
from service.realtime.broadcaster import Broadcaster
from service.realtime.direct import COUNTERS
from service.realtime.drain import SocketDrain
from service.realtime.handlers import ZizanyHandlers
from service.realtime.hub import Hub
from service.realtime.presence import Presence
from service.realtime.sockets import SocketIndex
from service.realtime.typing_state import TypingStore
from service.settings import Settings

log = logging.getLogger("zizany.realtime")


class SocketParts(Protocol):
    """The process's parts the real-time side uses (service.parts.Parts has them)."""

    settings: Settings
    secret: str
    sessionmaker: async_sessionmaker[AsyncSession]
    presence: Presence
    message_rate: SlidingWindowCounter
    event_limits: EventLimits
    message_writer: MessageWriter
    saturation: Saturation
    client_manager: socketio.AsyncManager
    typing_store: TypingStore | None
    backplane: Backplane | None


class SocketObserver(DispatchObserver, Protocol):
    """Hears of every client event: the dispatcher's, and those no handler takes."""

    def unhandled(self, sid: str, event: str) -> None:
        """`sid` sent `event`, which no handler takes (python-socketio ignores it: no ack)."""
        ...


@dataclass(frozen=True, slots=True)
class Implementations:
    """Which class plays each part (the real ones by default)."""

    handlers: type[ZizanyHandlers] = ZizanyHandlers
    announcer: type[Announcer] = Announcer
    broadcaster: type[Broadcaster] = Broadcaster


class Realtime:
    """Socket.IO of one process: hub, socket index, announcer, broadcaster, handlers.

    `chat` is the domain layer the handlers call; its notifier is this side's broadcaster.
    """

    def __init__(self, parts: SocketParts, implementations: Implementations | None = None) -> None:
        kinds = implementations or Implementations()
        sessionmaker = parts.sessionmaker
        self.backplane = parts.backplane
        self.hub = Hub(settings=parts.settings, client_manager=parts.client_manager)
        self.index = SocketIndex()
        self.announcer = kinds.announcer(
            hub=self.hub,
            index=self.index,
            sessionmaker=sessionmaker,
            presence=parts.presence,
            typing_timeout=parts.settings.typing_timeout_seconds,
            typing_store=parts.typing_store,
            presence_interval=parts.settings.presence_interval_seconds,
        )
        self.broadcaster = kinds.broadcaster(
            self.announcer,
            backplane=parts.backplane,
            resync_spread=parts.settings.resync_spread_seconds,
        )
        self.notifier = Guarded(self.broadcaster)
        self.chat = Chat(
            ChatParts(sessionmaker, self.notifier, parts.message_rate, parts.message_writer)
        )
        self.handlers = kinds.handlers(
            chat=self.chat,
            announcer=self.announcer,
            secret=parts.secret,
            saturation=parts.saturation,
            # Without a backplane every room of the deployment is in this process.
            rooms_are_exact=parts.backplane is None,
            limits=parts.event_limits.limits,
        )
        self.dispatcher = bind(
            self.hub.sio, self.handlers, self.hub.emitter, limiter=parts.event_limits
        )
        self.dispatcher.max_waiting = parts.settings.saturation_max_waiting_events
        self.dispatcher.overflow_retry_ms = math.ceil(
            parts.settings.saturation_retry_after_seconds * 1000
        )
        self.saturation = parts.saturation
        self.drain = SocketDrain(self.hub.sio)  # a graceful shutdown (service.shutdown)

    def observe(self, observer: SocketObserver) -> None:
        """Tell `observer` of every connection and client event, through public hooks only:
        the dispatcher's observer, and a catch-all handler for the events it does not own."""
        self.dispatcher.observer = observer
        not_handled = self.hub.sio.not_handled

        async def unhandled(event: str, sid: str, *args: Any) -> Any:
            observer.unhandled(sid, event)
            return not_handled  # as without a catch-all: no ack is sent

        self.hub.sio.on("*", unhandled)

    def asgi(self, other_app: Callable[..., Any]) -> socketio.ASGIApp:
        """One ASGI app: Socket.IO under /socket.io, everything else (and the lifespan) to
        `other_app`."""
        return socketio.ASGIApp(self.hub.sio, other_asgi_app=other_app, socketio_path="socket.io")

    async def start(self) -> None:
        """Start the client manager (the pub/sub listener) and the backplane, before serving."""
        self.hub.start()
        if self.backplane is not None:
            await self.backplane.start(self.broadcaster, self.announcer)

    async def stop(self) -> None:
        """Send the coalesced presence updates still pending, stop the resyncs, then stop the
        backplane (this process's leases go, its users' presence follows)."""
        await self.announcer.coalescer.flush()
        await self.broadcaster.resyncs.stop()
        if self.backplane is not None:
            await self.backplane.stop()

    def counters(self) -> dict[str, int]:
        """Counts for health and metrics: rejected emits, unpublished broadcasts, ..."""
        counts = self.hub.counters()
        counts.update(self.saturation.counts())
        counts["saturation_refused:backlog"] = self.dispatcher.overflowed
        counts["slow_consumers_dropped"] = COUNTERS.slow_consumers_dropped
        if self.backplane is not None:
            counts.update(self.backplane.counters())
            counts.update(self.broadcaster.resyncs.counters())
        return counts
