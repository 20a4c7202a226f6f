"""Several Zizany processes on one Redis: fan-out, shared presence/typing/limits, control.

- Emits fan out through python-socketio's Redis client manager (JSON over Redis pub/sub;
  python-socketio >= 5.14 no longer unpickles queue payloads). The generated emitter
  validates each payload once, in the emitting process, before `sio.emit`.
- Control operations the client manager does not carry (a user's sockets leaving a
  server's rooms, a session's sockets disconnecting) travel on the same pub/sub channel,
  so they arrive in order with the emits of the process that sent them.
- Presence (leases), typing state and rate limits live in Redis: see redis_presence,
  redis_typing and redis_counters.
- A broadcast that cannot be published is logged and counted (`publish_failures`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import socketio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.throttle import redis_login_throttle
from service.realtime.fanout import DirectFanoutManager
from service.realtime.redis_common import KEEPALIVE_OPTIONS, REDIS_ERRORS, connect_redis
from service.realtime.redis_counters import (
    RedisSlidingWindow,
    redis_message_rate,
)
from service.realtime.redis_presence import RedisPresence
from service.realtime.redis_typing import RedisTypingStore
from service.realtime.server import Realtime
from service.settings import Settings

log = logging.getLogger("zizany.scaleout")

CONTROL_METHOD = "zizany:control"
PUBLISH_TIMEOUT_SECONDS = 5.0
# The pub/sub listener retries after 0.5 s, doubling up to this (python-socketio: 60 s).
MAX_RESUBSCRIBE_DELAY_SECONDS = 4.0
# The contract's bound from a process's death to its users' `presence:update`.
OFFLINE_BOUND_SECONDS = 45.0

ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ScaleOutOptions:
    """How the processes share Redis: key prefix, this process's identity, lease timing."""

    redis_url: str
    prefix: str = "zizany"
    instance_id: str = ""
    lease_ttl: float = 15.0
    refresh_interval: float = 5.0
    sweep_interval: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.refresh_interval < self.lease_ttl:
            raise ValueError(
                f"presence refresh ({self.refresh_interval!r} s) must be shorter than the "
                f"lease ({self.lease_ttl!r} s)"
            )
        if self.sweep_interval <= 0:
            raise ValueError(f"presence sweep interval must be > 0, got {self.sweep_interval!r}")

    @property
    def process_id(self) -> str:
        """This process's stable identity (default: host name and port)."""
        return self.instance_id or default_instance_id(port=None)

    @property
    def offline_bound(self) -> float:
        """Seconds from a process's death to the sweep that reports its users offline."""
        return self.lease_ttl + self.sweep_interval

    @classmethod
    def from_settings(cls, settings: Settings) -> ScaleOutOptions:
        """From `ZIZANY_REDIS_URL`, `ZIZANY_REDIS_PREFIX`, `ZIZANY_INSTANCE_ID` and
        `ZIZANY_PRESENCE_{LEASE,REFRESH,SWEEP}_SECONDS`."""
        if settings.redis_url is None:
            raise ValueError("scale-out needs ZIZANY_REDIS_URL")
        return cls(
            redis_url=settings.redis_url,
            prefix=settings.redis_prefix,
            instance_id=settings.instance_id or default_instance_id(port=settings.port),
            lease_ttl=settings.presence_lease_seconds,
            refresh_interval=settings.presence_refresh_seconds,
            sweep_interval=settings.presence_sweep_seconds,
        )


def default_instance_id(*, port: int | None) -> str:
    """`host:port`: stable across restarts of the same process, unique on one host."""
    host = socket.gethostname()
    return f"{host}:{port}" if port is not None else host


class ZizanyRedisManager(socketio.AsyncRedisManager, DirectFanoutManager):  # type: ignore[misc]
    """python-socketio's Redis manager, plus: counted publish failures, control operations,
    a listener that resubscribes within seconds after Redis comes back, and local delivery
    without a task per recipient (DirectFanoutManager, below the pub/sub layer)."""

    # Set by python-socketio's `_redis_connect`: the listener's client and its pub/sub.
    redis: Any
    pubsub: Any

    def __init__(self, url: str, *, channel: str, publisher: Redis) -> None:
        super().__init__(
            url,
            channel=channel,
            redis_options={
                "socket_connect_timeout": 2,
                "socket_keepalive": True,
                "socket_keepalive_options": KEEPALIVE_OPTIONS,
            },
        )
        # Publishing goes through the shared client (it reconnects by itself); the
        # listener keeps its own connection, as python-socketio does.
        self.publisher = publisher
        self.published = 0
        self.publish_failures = 0
        self.subscribed = False
        self.resubscriptions = 0
        self.on_control: ControlHandler | None = None

    async def _publish(self, data: dict[str, Any]) -> int | None:
        """Publish to the other processes; a failure is logged and counted, never silent."""
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                receivers = await self.publisher.publish(self.channel, self.json.dumps(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.publish_failures += 1
            log.error(
                "broadcast NOT published to the other processes (%s; %d failed so far): %r",
                _describe(data),
                self.publish_failures,
                exc,
            )
            return None
        self.published += 1
        return int(receivers)

    async def publish_control(self, op: dict[str, Any]) -> None:
        """Send a control operation to the other processes."""
        await self._publish({"method": CONTROL_METHOD, "op": op, "host_id": self.host_id})

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        delay = 0.5
        failed_at: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._close_listener()
                self._redis_connect()
                await self.pubsub.subscribe(self.channel)
                self.subscribed = True
                if failed_at is not None:
                    self.resubscriptions += 1
                    log.warning(
                        "resubscribed to %s after %.1f s; broadcasts of other processes "
                        "published meanwhile were not received",
                        self.channel,
                        loop.time() - failed_at,
                    )
                failed_at, delay = None, 0.5
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed = False
                if failed_at is None:
                    failed_at = loop.time()
                log.error("Redis pub/sub lost (%r); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RESUBSCRIBE_DELAY_SECONDS)

    async def _close_listener(self) -> None:
        pubsub, redis = self.pubsub, self.redis
        self.pubsub = self.redis = None
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()
        with contextlib.suppress(Exception):
            if redis is not None:
                await redis.aclose()

    async def _listen(self) -> AsyncIterator[dict[str, Any]]:
        channel = self.channel.encode()
        async for message in self._redis_listen_with_retries():
            if message.get("type") != "message" or message.get("channel") != channel:
                continue
            try:
                data = self.json.loads(message["data"])
            except Exception:
                log.warning("undecodable pub/sub message ignored")
                continue
            if not isinstance(data, dict):
                continue
            if data.get("method") == CONTROL_METHOD:
                await self._apply_control(data)
                continue
            yield data

    async def _apply_control(self, data: dict[str, Any]) -> None:
        if data.get("host_id") == self.host_id or self.on_control is None:
            return
        op = data.get("op")
        if not isinstance(op, dict):
            return
        try:
            await self.on_control(op)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("control operation %r failed", op.get("op"))

    async def close(self) -> None:
        """Stop listening and close the listener's connection."""
        thread = getattr(self, "thread", None)
        if isinstance(thread, asyncio.Task) and not thread.done():
            thread.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await thread
        await self._close_listener()


def _describe(data: dict[str, Any]) -> str:
    """A short description of a pub/sub message for logs."""
    if data.get("method") == "emit":
        return f"emit {data.get('event')!r} to {data.get('room')!r}"
    if data.get("method") == CONTROL_METHOD:
        op = data.get("op")
        return f"control {op.get('op') if isinstance(op, dict) else op!r}"
    return str(data.get("method"))


class RedisBackplane:
    """Starts, runs and stops the shared state of one process; implements `Backplane`."""

    def __init__(
        self,
        *,
        redis: Redis,
        manager: ZizanyRedisManager,
        presence: RedisPresence,
        typing_store: RedisTypingStore,
        counters: Iterable[RedisSlidingWindow],
        options: ScaleOutOptions,
    ) -> None:
        self.redis = redis
        self.manager = manager
        self.presence = presence
        self.typing_store = typing_store
        self.rate_counters = list(counters)
        self.options = options
        self._rt: Realtime | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._cleared = False
        self._pending: set[int] = set()  # users whose presence:update still has to go out
        self.loop_failures = 0

    async def start(self, rt: Realtime) -> None:
        """Clear this process id's previous life, then refresh and sweep periodically."""
        self._rt = rt
        self.manager.on_control = rt.apply_control
        try:
            await self._clear_previous_life()
        except REDIS_ERRORS as exc:
            log.error("Redis unreachable at start (%r): presence catches up once it answers", exc)
        self._tasks = [
            asyncio.create_task(self._every(self.options.refresh_interval, self._refresh)),
            asyncio.create_task(self._every(self.options.sweep_interval, self._sweep)),
        ]
        log.info(
            "scale-out on Redis as %r (prefix %r): leases %.0f s, refresh %.0f s, sweep %.0f s; "
            "a dead process's users go offline within %.0f s",
            self.options.process_id,
            self.options.prefix,
            self.options.lease_ttl,
            self.options.refresh_interval,
            self.options.sweep_interval,
            self.options.offline_bound,
        )

    async def stop(self) -> None:
        """Stop the loops, drop this process's leases (announced), close the connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            await self._announce(await self.presence.clear_process())
        except Exception:
            log.exception("this process's leases were not dropped; they expire by themselves")
        await self.manager.close()
        await self.redis.aclose()

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
            "presence_loop_failures": self.loop_failures,
            "rate_limit_local_fallbacks": sum(c.fallbacks for c in self.rate_counters),
        }

    async def _clear_previous_life(self) -> None:
        gone = await self.presence.clear_process()
        self._cleared = True
        if gone:
            log.info("cleared the leases of a previous life of %r", self.options.process_id)
        await self._announce(gone)

    async def _refresh(self) -> None:
        if not self._cleared:
            await self._clear_previous_life()
        await self._announce(await self.presence.refresh())

    async def _sweep(self) -> None:
        await self._announce(await self.presence.sweep())
        assert self._rt is not None
        for change in await self.typing_store.sweep():
            await self._rt.announce_typing(change)

    async def _announce(self, user_ids: set[int]) -> None:
        """`presence:update` for these users' servers; kept for the next round if it fails."""
        self._pending |= user_ids
        if not self._pending or self._rt is None:
            return
        pending = set(self._pending)
        await self._rt.announce_presence_of(pending)
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


def create_scaled_realtime(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    secret: str,
    options: ScaleOutOptions | None = None,
) -> Realtime:
    """The real-time side of one of several processes sharing `settings.redis_url`."""
    options = options or ScaleOutOptions.from_settings(settings)
    redis = connect_redis(options.redis_url)
    manager = ZizanyRedisManager(
        options.redis_url, channel=f"{options.prefix}:socketio", publisher=redis
    )
    presence = RedisPresence(
        redis,
        prefix=options.prefix,
        process_id=options.process_id,
        lease_ttl=options.lease_ttl,
        refresh_interval=options.refresh_interval,
        sweep_interval=options.sweep_interval,
    )
    typing_store = RedisTypingStore(
        redis, prefix=options.prefix, timeout=settings.typing_timeout_seconds
    )
    message_rate = redis_message_rate(redis, prefix=options.prefix, settings=settings)
    login_throttle, login_counters = redis_login_throttle(
        redis, prefix=options.prefix, settings=settings
    )
    backplane = RedisBackplane(
        redis=redis,
        manager=manager,
        presence=presence,
        typing_store=typing_store,
        counters=[message_rate, *login_counters],
        options=options,
    )
    return Realtime(
        settings=settings,
        sessionmaker=sessionmaker,
        secret=secret,
        presence=presence,
        message_rate=message_rate,
        client_manager=manager,
        typing_store=typing_store,
        login_throttle=login_throttle,
        backplane=backplane,
    )
