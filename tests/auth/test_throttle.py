"""Login throttling per (account, address), per address and per account, with a Retry-After."""

from __future__ import annotations

import tracemalloc

import pytest

from service.auth.throttle import InMemorySlidingWindow, LoginThrottle
from service.errors import RateLimited
from service.settings import Settings

pytestmark = pytest.mark.anyio


class Clock:
    """A hand-wound monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_address_failing_for_an_account_waits_with_a_retry_after() -> None:
    clock = Clock()
    throttle = LoginThrottle.in_memory(max_failures=3, window_seconds=60, clock=clock)

    for _ in range(3):
        await throttle.check(email="ann@example.test", address="10.0.0.1")
        await throttle.record_failure(email="ann@example.test", address="10.0.0.1")
        clock.now += 10

    with pytest.raises(RateLimited) as blocked:
        await throttle.check(email="ANN@example.test", address="10.0.0.1")
    # The first failure (at t=1000) leaves the window at t=1060; it is now t=1030.
    assert blocked.value.retry_after_seconds == pytest.approx(30)
    assert blocked.value.headers == {"Retry-After": "30"}
    assert blocked.value.http_status == 429
    assert blocked.value.code == "E_RATE_LIMITED"
    assert blocked.value.socket_extra() == {"retryAfterMs": 30000}
    # The owner, from another address, and another account from this one, are fine.
    await throttle.check(email="ann@example.test", address="10.0.0.2")
    await throttle.check(email="bob@example.test", address="10.0.0.1")

    clock.now += 30
    await throttle.check(email="ann@example.test", address="10.0.0.1")


async def test_an_address_that_keeps_failing_backs_off_longer_and_longer() -> None:
    clock = Clock()
    throttle = LoginThrottle.in_memory(max_failures=2, window_seconds=60, clock=clock)
    waits = []
    for _ in range(4):
        while True:
            try:
                await throttle.check(email="ann@example.test", address="10.0.0.1")
            except RateLimited as blocked:
                waits.append(blocked.retry_after_seconds)
                clock.now += blocked.retry_after_seconds
                break
            await throttle.record_failure(email="ann@example.test", address="10.0.0.1")

    # 2 failures per minute, 4 per 4 minutes, 8 per 16 minutes: after the 8th failure
    # (t = 300 s) the address waits until the first one is 16 minutes old.
    assert waits == [pytest.approx(w) for w in (60, 180, 60, 660)]


async def test_a_success_clears_the_pair_but_not_the_address() -> None:
    clock = Clock()
    throttle = LoginThrottle.in_memory(max_failures=2, window_seconds=60, clock=clock)
    await throttle.record_failure(email="ann@example.test", address="10.0.0.1")
    await throttle.record_failure(email="ann@example.test", address="10.0.0.1")

    await throttle.record_success(email="ann@example.test", address="10.0.0.1")

    await throttle.check(email="ann@example.test", address="10.0.0.1")
    for n in range(6):  # the address's failures count on: 2 + 6 = 8 = 4 x 2
        await throttle.record_failure(email=f"zed{n}@example.test", address="10.0.0.1")
    with pytest.raises(RateLimited):
        await throttle.check(email="new@example.test", address="10.0.0.1")


async def test_an_address_spraying_many_accounts_is_blocked() -> None:
    clock = Clock()
    throttle = LoginThrottle.in_memory(max_failures=5, window_seconds=300, clock=clock)

    for n in range(20):
        await throttle.check(email=f"user{n}@example.test", address="203.0.113.9")
        await throttle.record_failure(email=f"user{n}@example.test", address="203.0.113.9")

    with pytest.raises(RateLimited):
        await throttle.check(email="user99@example.test", address="203.0.113.9")
    await throttle.check(email="user99@example.test", address="198.51.100.1")


async def test_a_distributed_guesser_gets_one_try_per_address_and_the_owner_still_gets_in() -> None:
    clock = Clock()
    throttle = LoginThrottle.in_memory(max_failures=2, window_seconds=60, clock=clock)
    # 20 failures (10 x the limit) from 20 addresses, one each: the account is under attack.
    for n in range(20):
        await throttle.check(email="ann@example.test", address=f"203.0.113.{n}")
        await throttle.record_failure(email="ann@example.test", address=f"203.0.113.{n}")

    for n in range(20):  # every address that failed now waits...
        with pytest.raises(RateLimited):
            await throttle.check(email="ann@example.test", address=f"203.0.113.{n}")
    # ...while an address with no failure, the owner's, is let through.
    await throttle.check(email="ann@example.test", address="198.51.100.7")


async def test_the_settings_decide_the_limit_and_window() -> None:
    clock = Clock()
    throttle = LoginThrottle.from_settings(
        Settings(login_max_failures=1, login_window_seconds=5), clock=clock
    )
    await throttle.record_failure(email="ann@example.test", address="10.0.0.1")

    with pytest.raises(RateLimited) as blocked:
        await throttle.check(email="ann@example.test", address="10.0.0.1")
    assert blocked.value.retry_after_ms == 5000


async def test_acquire_admits_up_to_the_limit_per_window_then_says_how_long_to_wait() -> None:
    clock = Clock()
    window = InMemorySlidingWindow(limit=2, window_seconds=10, clock=clock)

    assert await window.acquire("user:1") is None
    clock.now += 4
    assert await window.acquire("user:1") is None
    assert await window.acquire("user:1") == pytest.approx(6)
    assert await window.acquire("user:2") is None
    clock.now += 6
    assert await window.acquire("user:1") is None
    await window.reset("user:1")
    assert await window.retry_after("user:1") is None


async def test_memory_stays_bounded_by_evicting_the_least_recent_keys() -> None:
    window = InMemorySlidingWindow(limit=1, window_seconds=60, clock=Clock(), max_keys=3)

    for key in ("a", "b", "c", "d"):
        await window.hit(key)

    assert await window.retry_after("a") is None
    assert await window.retry_after("d") is not None


def test_retry_after_rounds_up_to_whole_seconds_and_never_says_zero() -> None:
    assert RateLimited(0.2).headers["Retry-After"] == "1"
    assert RateLimited(1.01).headers["Retry-After"] == "2"
    assert RateLimited(0.2).retry_after_ms == 200


async def test_a_window_keeps_only_the_newest_limit_times_and_forgets_expired_ones() -> None:
    clock = Clock()
    window = InMemorySlidingWindow(limit=3, window_seconds=10, clock=clock)
    for _ in range(5):
        await window.hit("k")
        clock.now += 1
    # Five hits at 1000..1004: the newest three decide; the third newest (1002) leaves
    # the window at 1012.
    assert await window.retry_after("k") == pytest.approx(1002 + 10 - clock.now)
    clock.now = 1012.0
    assert await window.acquire("k") is None
    clock.now = 1100.0
    assert await window.retry_after("k") is None
    assert "k" not in window._events  # nothing is kept for a key that went quiet


async def test_a_key_with_one_recent_event_costs_a_few_hundred_bytes() -> None:
    # Every socket has window keys of its own (its joins, for 10 s): at 5,000 idle
    # sockets a deque per key (790 bytes with one time in it) was 1.5 KiB per socket.
    window = InMemorySlidingWindow(limit=20, window_seconds=10)
    keys = [f"joins:socket-{n:06d}" for n in range(2000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for key in keys:
            await window.hit(key)
        per_key = (tracemalloc.get_traced_memory()[0] - before) / len(keys)
    finally:
        tracemalloc.stop()
    assert per_key < 300, f"{per_key:.0f} bytes per key"
