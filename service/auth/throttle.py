"""Sliding-window rate limiting: login failures per account and per client address.

The counter sits behind `SlidingWindowCounter` so that a Redis-backed one can replace
the in-process one when several processes serve the same users.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from service.errors import RateLimited
from service.settings import Settings

# A client address may fail this many times more often than one account: several people
# can share an address (NAT), while password spraying across accounts still hits a wall.
ADDRESS_LIMIT_FACTOR = 4


class SlidingWindowCounter(Protocol):
    """Counts events per key over the last `window` seconds against a fixed limit."""

    async def hit(self, key: str) -> None:
        """Record one event for the key."""
        ...

    async def retry_after(self, key: str) -> float | None:
        """Seconds until the key is below its limit again, or None when it is below now."""
        ...

    async def acquire(self, key: str) -> float | None:
        """Record an event unless the key is at its limit; returns `retry_after` if refused."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the key's events."""
        ...


class InMemorySlidingWindow:
    """A per-process sliding-window log; memory is bounded by `max_keys`."""

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError(f"need limit >= 1 and window > 0, got {limit!r}, {window_seconds!r}")
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        # Insertion order doubles as recency order: a key is re-inserted on every hit.
        self._events: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        """The key's events inside the window (older ones dropped), or None if there are none."""
        events = self._events.get(key)
        if events is None:
            return None
        horizon = now - self.window_seconds
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def _retry_after(self, events: deque[float] | None, now: float) -> float | None:
        """Seconds until fewer than `limit` events remain in the window."""
        if events is None or len(events) < self.limit:
            return None
        return events[len(events) - self.limit] + self.window_seconds - now

    async def hit(self, key: str) -> None:
        """Record one event for the key."""
        now = self._clock()
        events = self._recent(key, now)
        if events is None:
            events = deque(maxlen=self.limit)
        else:
            del self._events[key]
        events.append(now)
        self._events[key] = events
        while len(self._events) > self._max_keys:
            del self._events[next(iter(self._events))]

    async def retry_after(self, key: str) -> float | None:
        """Seconds until the key is below its limit again, or None when it is below now."""
        now = self._clock()
        return self._retry_after(self._recent(key, now), now)

    async def acquire(self, key: str) -> float | None:
        """Record an event unless the key is at its limit; returns `retry_after` if refused."""
        wait = await self.retry_after(key)
        if wait is None:
            await self.hit(key)
        return wait

    async def reset(self, key: str) -> None:
        """Forget the key's events."""
        self._events.pop(key, None)


class LoginThrottle:
    """Refuses logins for an account or address after too many recent failures."""

    def __init__(
        self, *, per_account: SlidingWindowCounter, per_address: SlidingWindowCounter
    ) -> None:
        self._per_account = per_account
        self._per_address = per_address

    @classmethod
    def in_memory(
        cls,
        *,
        max_failures: int,
        window_seconds: float,
        address_max_failures: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> LoginThrottle:
        """A throttle with in-process counters."""
        return cls(
            per_account=InMemorySlidingWindow(
                limit=max_failures, window_seconds=window_seconds, clock=clock
            ),
            per_address=InMemorySlidingWindow(
                limit=address_max_failures or max_failures * ADDRESS_LIMIT_FACTOR,
                window_seconds=window_seconds,
                clock=clock,
            ),
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> LoginThrottle:
        """An in-process throttle with the configured limit and window."""
        return cls.in_memory(
            max_failures=settings.login_max_failures,
            window_seconds=settings.login_window_seconds,
            clock=clock,
        )

    async def check(self, *, email: str, address: str | None) -> None:
        """Raise RateLimited (with Retry-After) when the account or the address is blocked."""
        waits = [await self._per_account.retry_after(_account_key(email))]
        if address:
            waits.append(await self._per_address.retry_after(_address_key(address)))
        blocked = [wait for wait in waits if wait is not None]
        if blocked:
            raise RateLimited(max(blocked))

    async def record_failure(self, *, email: str, address: str | None) -> None:
        """Count a failed login against the account and the address."""
        await self._per_account.hit(_account_key(email))
        if address:
            await self._per_address.hit(_address_key(address))

    async def record_success(self, *, email: str) -> None:
        """Clear the account's failures (the address keeps its count: it may be spraying)."""
        await self._per_account.reset(_account_key(email))


def _account_key(email: str) -> str:
    """Counter key of an account, by its normalised email."""
    return "account:" + email.strip().lower()


def _address_key(address: str) -> str:
    """Counter key of a client address."""
    return "address:" + address
