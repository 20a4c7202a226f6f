"""One place builds the parts of a process; `lifespan` starts and stops them, once.

Embedded (no `ZIZANY_REDIS_URL`): the database engine, in-process throttles, presence and
typing state. With Redis: ONE typed Redis client for the process, shared by the rate
counters, presence, typing state, the fan-out's publisher and the health probe (the
pub/sub listener keeps its own connection, as python-socketio requires), and the
backplane that runs their periodic work. Building connects to nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import socketio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.auth.passwords import Passwords
from service.auth.throttle import InMemorySlidingWindow, LoginThrottle, SlidingWindowCounter
from service.chat.saturation import Bounds, Saturation
from service.db.engine import create_engine, session_factory
from service.db.message_writer import MessageWriter
from service.db.migrate import prepare_schema
from service.limits import EventLimits, configured_limits
from service.realtime.backplane import Backplane
from service.realtime.fanout import DirectFanoutManager
from service.realtime.presence import InMemoryPresence, Presence
from service.realtime.redis_common import connect_redis
from service.realtime.redis_counters import (
    SharedCounters,
    redis_event_limits,
    redis_login_throttle,
    redis_message_rate,
)
from service.realtime.redis_presence import RedisPresence
from service.realtime.redis_typing import RedisTypingStore
from service.realtime.scaleout.backplane import RedisBackplane, instance_id
from service.realtime.scaleout.manager import ZizanyRedisManager
from service.realtime.typing_state import TypingStore
from service.settings import Settings, resolve_secret_key


@dataclass(slots=True)
class Parts:
    """Everything a process shares between REST and Socket.IO."""

    settings: Settings
    secret: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    passwords: Passwords
    login_throttle: LoginThrottle
    # One per-user posting counter for REST's create_message and the socket's message:create.
    message_rate: SlidingWindowCounter
    # The other client events' limits (spec `x-rate-limit`), enforced by the dispatcher.
    event_limits: EventLimits
    presence: Presence
    client_manager: socketio.AsyncManager
    message_writer: MessageWriter
    # Refuses new messages while the process is saturated (the writer's queue bounded).
    saturation: Saturation
    redis: Redis | None = None
    typing_store: TypingStore | None = None
    backplane: Backplane | None = None


def build_parts(settings: Settings) -> Parts:
    """The parts for `settings`: in-process, or shared through Redis when it is configured."""
    engine = create_engine(settings)
    saturation = Saturation(
        Bounds(
            max_pending_messages=settings.saturation_max_pending_messages,
            max_loop_lag_seconds=settings.saturation_max_loop_lag_seconds,
            max_queue_delay_seconds=settings.saturation_max_queue_delay_seconds,
            retry_after_seconds=settings.saturation_retry_after_seconds,
        )
    )
    writer = MessageWriter(engine, admit=saturation.admit)
    saturation.pending = lambda: writer.pending
    embedded = Parts(
        settings=settings,
        secret=resolve_secret_key(settings),
        engine=engine,
        sessionmaker=session_factory(engine),
        passwords=Passwords.from_settings(settings),
        login_throttle=LoginThrottle.from_settings(settings),
        message_rate=InMemorySlidingWindow(
            limit=settings.message_rate_limit,
            window_seconds=settings.message_rate_window_seconds,
        ),
        event_limits=EventLimits(
            configured_limits(settings),
            lambda _, limit, window: InMemorySlidingWindow(limit=limit, window_seconds=window),
        ),
        presence=InMemoryPresence(),
        client_manager=DirectFanoutManager(),
        message_writer=writer,
        saturation=saturation,
    )
    if settings.redis_url is None:
        return embedded
    redis = connect_redis(settings.redis_url)
    prefix = settings.redis_prefix
    manager = ZizanyRedisManager(settings.redis_url, channel=f"{prefix}:socketio", publisher=redis)
    presence = RedisPresence(
        redis,
        prefix=prefix,
        process_id=instance_id(settings),
        lease_ttl=settings.presence_lease_seconds,
        refresh_interval=settings.presence_refresh_seconds,
        sweep_interval=settings.presence_sweep_seconds,
    )
    typing_store = RedisTypingStore(redis, prefix=prefix, timeout=settings.typing_timeout_seconds)
    counters = SharedCounters(redis, prefix=prefix)
    message_rate = redis_message_rate(counters, settings)
    login_throttle = redis_login_throttle(counters, settings)
    event_limits = redis_event_limits(counters, settings)
    backplane = RedisBackplane(
        manager=manager, presence=presence, typing_store=typing_store, counters=counters.made
    )
    return replace(
        embedded,
        login_throttle=login_throttle,
        message_rate=message_rate,
        event_limits=event_limits,
        presence=presence,
        client_manager=manager,
        redis=redis,
        typing_store=typing_store,
        backplane=backplane,
    )


@contextlib.asynccontextmanager
async def running(parts: Parts) -> AsyncIterator[contextlib.AsyncExitStack]:
    """Migrate the embedded database (refuse a configured one that is not current); at exit
    close Redis, then dispose the engine.

    Yields the stack, so that what starts later (the real-time side) stops first, while
    the database and Redis are still there for its goodbyes.
    """
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(parts.engine.dispose)
        if parts.redis is not None:
            stack.push_async_callback(parts.redis.aclose)
        await prepare_schema(parts.settings)
        parts.saturation.start()
        stack.push_async_callback(parts.saturation.stop)
        yield stack
