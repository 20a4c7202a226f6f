"""python-socketio's Redis client manager as Zizany runs it (fan-out between processes).

- Emits fan out through python-socketio's Redis client manager (JSON over Redis pub/sub;
  python-socketio >= 5.14 no longer unpickles queue payloads). The generated emitter
  validates each payload once, in the emitting process, before `sio.emit`.
- Control operations the client manager does not carry (a user's sockets leaving a
  server's rooms, a session's sockets disconnecting) travel on the same pub/sub channel,
  so they arrive in order with the emits of the process that sent them.
- Presence (leases), typing state and rate limits live in Redis: see redis_presence,
  redis_typing and redis_counters.
- A broadcast that cannot be published is logged and counted (`publish_failures`).
- Gaps: a process tells when broadcasts of others may not have reached it (`on_gap`):
  when its listener subscribes again after losing the subscription (however quickly),
  and when another process reports more failed publishes than it did before. Every
  message a process publishes carries its count of failed publishes so far (and how long
  ago the latest failed); after a failure it also publishes a notice with that count,
  retried until Redis takes it, so the others learn of the loss even when it sends
  nothing else. service.realtime.resync makes the affected clients catch up.
- While the subscription is down, this process delivers no room broadcasts to its own
  sockets either (`rooms_paused`): its own events would otherwise reach clients while
  the others' are lost, and move their catch-up cursors past what they missed. At the
  resubscription the sockets from before are muted and dropped, then rooms resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
from redis.asyncio import Redis

from service.realtime.fanout import DirectFanoutManager
from service.realtime.redis_common import KEEPALIVE_OPTIONS

log = logging.getLogger("zizany.scaleout")

CONTROL_METHOD = "zizany:control"
PUBLISH_TIMEOUT_SECONDS = 5.0
# The pub/sub listener retries after 0.5 s, doubling up to this (python-socketio: 60 s).
MAX_RESUBSCRIBE_DELAY_SECONDS = 4.0
ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]
GapHandler = Callable[[float, str], None]
"""Called with the `time.monotonic()` moment up to which broadcasts may have been lost."""

# Carried by every published message: the publisher's failed publishes so far, and the
# seconds since the latest of them.
LOST_FIELD = "zizany_lost"
LOST_AGE_FIELD = "zizany_lost_age"
NOTICE_METHOD = "zizany:notice"
# Publishers whose counts are remembered (a restarted process has a new host id).
MAX_KNOWN_PUBLISHERS = 1024


class ZizanyRedisManager(socketio.AsyncRedisManager, DirectFanoutManager):  # type: ignore[misc]
    """python-socketio's Redis manager, plus: counted publish failures, control operations,
    a listener that resubscribes within seconds after Redis comes back, and local delivery
    without a task per recipient (DirectFanoutManager, below the pub/sub layer).

    python-socketio has no public hooks for this: it overrides `_publish` and `_listen`,
    the two methods `AsyncPubSubManager` leaves to its subclasses, calls `_redis_connect`,
    and needs the MRO AsyncPubSubManager → DirectFanoutManager → AsyncManager for local
    delivery. tests/scaleout/test_socketio_hooks.py fails when any of that changes; the
    dependency is capped to the minor versions it was tested with (pyproject.toml)."""

    # What this class overrides, and the library's private methods it calls.
    OVERRIDES = ("_publish", "_listen")
    CALLS = ("_redis_connect",)

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
        self.gaps = 0
        self.on_control: ControlHandler | None = None
        self.on_gap: GapHandler | None = None
        self._failed_at = 0.0  # time.monotonic() of the latest failed publish
        self._reported = 0  # the failure count the last message that got out carried
        self._notice: asyncio.Task[None] | None = None
        self._lost_by_host: dict[str, int] = {}  # another publisher -> its latest count
        self._subscribed_since = 0.0  # time.monotonic() of the current subscription

    async def _publish(self, data: dict[str, Any]) -> int | None:
        """Publish to the other processes; a failure is logged and counted, never silent,
        and the others are told of it as soon as Redis takes a message again."""
        lost = self.publish_failures
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                receivers = await self.publisher.publish(
                    self.channel, self.json.dumps({**data, **self._losses(lost)})
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.publish_failures += 1
            self._failed_at = time.monotonic()
            log.error(
                "broadcast NOT published to the other processes (%s; %d failed so far): %r",
                _describe(data),
                self.publish_failures,
                exc,
            )
            if self._notice is None or self._notice.done():
                self._notice = asyncio.create_task(self._tell_losses())
            return None
        self.published += 1
        self._reported = max(self._reported, lost)
        return int(receivers)

    def _losses(self, lost: int) -> dict[str, Any]:
        if not lost:
            return {LOST_FIELD: 0}
        return {LOST_FIELD: lost, LOST_AGE_FIELD: round(time.monotonic() - self._failed_at, 3)}

    async def _tell_losses(self) -> None:
        """Publish a notice of the failed publishes until one gets out (0.5 s doubling to 4 s)."""
        delay = 0.5
        while self._reported < self.publish_failures:
            await asyncio.sleep(delay)
            lost = self.publish_failures
            notice = {"method": NOTICE_METHOD, "host_id": self.host_id, **self._losses(lost)}
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                    await self.publisher.publish(self.channel, self.json.dumps(notice))
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = min(delay * 2, MAX_RESUBSCRIBE_DELAY_SECONDS)
                continue
            self._reported = max(self._reported, lost)
            log.warning("told the other processes of %d failed publish(es)", lost)

    async def publish_control(self, op: dict[str, Any]) -> None:
        """Send a control operation to the other processes."""
        await self._publish({"method": CONTROL_METHOD, "op": op, "host_id": self.host_id})

    async def _subscribed(self) -> AsyncIterator[dict[str, Any]]:
        """The channel's pub/sub messages, resubscribing (0.5 s doubling to 4 s) after a loss."""
        delay = 0.5
        failed_at: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._close_listener()
                self._redis_connect()
                await self.pubsub.subscribe(self.channel)
                self.subscribed = True
                self._subscribed_since = time.monotonic()
                if failed_at is not None:
                    self.resubscriptions += 1
                    log.warning(
                        "resubscribed to %s after %.1f s; broadcasts of other processes "
                        "published meanwhile were not received",
                        self.channel,
                        loop.time() - failed_at,
                    )
                    # However short the loss, what was published meanwhile is gone.
                    self._gap(time.monotonic(), "the pub/sub subscription was lost")
                self.rooms_paused = False
                failed_at, delay = None, 0.5
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed = False
                self.rooms_paused = True
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
        async for message in self._subscribed():
            if message.get("type") != "message" or message.get("channel") != channel:
                continue
            try:
                data = self.json.loads(message["data"])
            except Exception:
                log.warning("undecodable pub/sub message ignored")
                continue
            if not isinstance(data, dict):
                continue
            self._check_losses(data)
            if data.get("method") == NOTICE_METHOD:
                continue
            if data.get("method") == CONTROL_METHOD:
                await self._apply_control(data)
                continue
            yield data

    def _check_losses(self, data: dict[str, Any]) -> None:
        """A gap when another process reports more failed publishes than it did before."""
        host, lost = data.get("host_id"), data.get(LOST_FIELD)
        if not isinstance(host, str) or host == self.host_id or type(lost) is not int:
            return
        known = self._lost_by_host.pop(host, None)
        self._lost_by_host[host] = lost if known is None else max(known, lost)
        if len(self._lost_by_host) > MAX_KNOWN_PUBLISHERS:
            del self._lost_by_host[next(iter(self._lost_by_host))]
        if lost <= (known or 0):
            return
        age = data.get(LOST_AGE_FIELD)
        ago = float(age) if isinstance(age, int | float) and 0 <= age < 86_400 else 0.0
        failed = time.monotonic() - ago  # at most the transit time later than it failed
        if known is None and failed < self._subscribed_since:
            # A publisher first heard of now whose latest failure is older than this
            # subscription: nothing this process should have received was lost.
            return
        self._gap(failed, f"another process could not publish {lost - (known or 0)} broadcast(s)")

    def _gap(self, before: float, why: str) -> None:
        self.gaps += 1
        if self.on_gap is None:
            return
        try:
            self.on_gap(before, why)
        except Exception:
            log.exception("handling a pub/sub gap failed")

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
        notice, self._notice = self._notice, None
        if notice is not None and not notice.done():
            notice.cancel()
            await asyncio.gather(notice, return_exceptions=True)
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
