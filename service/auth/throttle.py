"""Sliding-window rate limiting, and the login throttle built on it.

The counter sits behind `SlidingWindowCounter` so that a Redis-backed one can replace
the in-process one when several processes serve the same users.
"""

from __future__ import annotations

import time
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
        # A key's log is a plain list, oldest first, at most `limit` long: every socket
        # has keys of its own (its joins), and a deque holding one time takes 790 bytes
        # (its first block), a list holding one 95.
        self._events: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float] | None:
        """The key's events inside the window (older ones dropped), or None if there are none."""
        events = self._events.get(key)
        if events is None:
            return None
        horizon = now - self.window_seconds
        expired = 0
        while expired < len(events) and events[expired] <= horizon:
            expired += 1
        if expired:
            del events[:expired]
        if not events:
            del self._events[key]
            return None
        return events

    def _retry_after(self, events: list[float] | None, now: float) -> float | None:
        """Seconds until fewer than `limit` events remain in the window."""
        if events is None or len(events) < self.limit:
            return None
        return events[len(events) - self.limit] + self.window_seconds - now

    async def hit(self, key: str) -> None:
        """Record one event for the key."""
        now = self._clock()
        events = self._recent(key, now)
        if events is None:
            events = []
        else:
            del self._events[key]
        events.append(now)
        if len(events) > self.limit:
            del events[0]  # only the newest `limit` times decide
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


CounterFactory = Callable[[str, int, float], SlidingWindowCounter]
"""Makes the counter called `name` with a `limit` per `window` seconds (in memory, Redis)."""

# Backoff per (account, address): tier k allows `max_failures * 2**k` failures per
# `window * 4**k` (defaults: 5 per 5 min, 10 per 20 min, 20 per 80 min).
BACKOFF_TIERS = 3
# An account is "under attack" after this many times `max_failures` failures from all
# addresses in the window; then only addresses with no recent failure may try it.
ACCOUNT_ATTACK_FACTOR = 10


class LoginThrottle:
    """Slows down password guessing without locking the owner out.

    - per (account, address), with backoff: the address that keeps failing for an
      account waits longer and longer; a correct password from it resets that;
    - per address, across accounts (password spraying): `ADDRESS_LIMIT_FACTOR` times
      the per-account limit;
    - per account, across addresses (a distributed guesser): past
      `ACCOUNT_ATTACK_FACTOR` times the limit, an address that failed recently (for any
      account) is refused for that account, while an address with no failure — the
      owner's usual one — is still let through.

    The counters come from `counter` (in-process, or shared in Redis).
    """

    def __init__(
        self, counter: CounterFactory, *, max_failures: int, window_seconds: float
    ) -> None:
        self._pair = [
            counter(f"pair{k}", max_failures * 2**k, window_seconds * 4**k)
            for k in range(BACKOFF_TIERS)
        ]
        self._per_address = counter("address", max_failures * ADDRESS_LIMIT_FACTOR, window_seconds)
        self._failed = counter("failed", 1, window_seconds)
        self._per_account = counter("account", max_failures * ACCOUNT_ATTACK_FACTOR, window_seconds)

    @classmethod
    def in_memory(
        cls,
        *,
        max_failures: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> LoginThrottle:
        """A throttle with in-process counters."""

        def counter(_name: str, limit: int, window: float) -> SlidingWindowCounter:
            return InMemorySlidingWindow(limit=limit, window_seconds=window, clock=clock)

        return cls(counter, max_failures=max_failures, window_seconds=window_seconds)

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
        """Raise RateLimited (with Retry-After) when this address may not try this account now."""
        pair = _pair_key(email, address)
        waits = [await tier.retry_after(pair) for tier in self._pair]
        waits.append(await self._per_address.retry_after(_address_key(address)))
        under_attack = await self._per_account.retry_after(_account_key(email))
        if under_attack is not None and await self._failed.retry_after(_address_key(address)):
            waits.append(under_attack)
        blocked = [wait for wait in waits if wait is not None]
        if blocked:
            raise RateLimited(max(blocked))

    async def record_failure(self, *, email: str, address: str | None) -> None:
        """Count a failed login against the pair, the address and the account."""
        pair = _pair_key(email, address)
        for tier in self._pair:
            await tier.hit(pair)
        await self._per_address.hit(_address_key(address))
        await self._failed.hit(_address_key(address))
        await self._per_account.hit(_account_key(email))

    async def record_success(self, *, email: str, address: str | None) -> None:
        """Clear the pair's failures (the address and the account keep theirs: they may be
        spraying, or under attack from elsewhere)."""
        pair = _pair_key(email, address)
        for tier in self._pair:
            await tier.reset(pair)


def _pair_key(email: str, address: str | None) -> str:
    """Counter key of an (account, address) pair."""
    return f"{_account_key(email)}|{_address_key(address)}"


def _account_key(email: str) -> str:
    """Counter key of an account, by its normalised email."""
    return "account:" + email.strip().lower()


def _address_key(address: str | None) -> str:
    """Counter key of a client address (all unknown addresses share one)."""
    return "address:" + (address or "unknown")
