"""Shedding new messages when the process is saturated: refuse early, never queue without end.

Past its capacity a server that accepts everything queues it: the group-commit writer's
list, the events waiting their socket's turn, the event loop's ready queue. Latency then
grows without bound and memory with it, until nothing arrives in time at all. Instead,
a new message is refused with `E_RATE_LIMITED` (`error:rate_limited`, a `retryAfterMs`)
while any of three signals is over its bound (settings `saturation_*`):

- **writer**: the messages waiting for the group-commit writer (queued and in its batch
  under way) — the database is behind. Checked at the moment a message would join the
  queue (`MessageWriter.admit`), so the queue never holds more than the bound.
- **lag**: how late a cheap periodic timer fires — the event loop is behind (CPU). A
  smoothed value: one slow tick (a GC pause, a busy neighbour) does not trip it, a
  second of overload does.
- **queue**: how long the event waited for its socket's turn (events of one socket are
  handled one at a time) — this sender sends faster than the server handles its events.
- **backlog** (the dispatcher's `max_waiting`, contract_runtime): more events of one
  socket waiting for their turn than `saturation_max_waiting_events` — refused at once,
  unhandled, so a client that never waits for its acks holds bounded memory.

A refused message is not stored and not broadcast; each refusal is counted by reason
(`counts()`, mirrored as `zizany_saturation_refusals_total{reason}`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.errors import RateLimited

log = logging.getLogger("zizany.saturation")

REASONS = ("writer", "lag", "queue")


class Saturated(RateLimited):
    """Refused because the server is saturated (not the sender's own rate)."""

    def __init__(self, reason: str, retry_after_seconds: float) -> None:
        self.reason = reason
        super().__init__(
            retry_after_seconds,
            f"server busy ({reason}), retry in {retry_after_seconds:.1f} s",
        )


@dataclass(frozen=True, slots=True)
class Bounds:
    """When the process counts as saturated, and what a refusal suggests."""

    max_pending_messages: int = 1024
    max_loop_lag_seconds: float = 1.0
    max_queue_delay_seconds: float = 5.0
    retry_after_seconds: float = 1.0
    tick_seconds: float = 0.05


class Saturation:
    """The three signals, their bounds and the refusals' counts."""

    def __init__(self, bounds: Bounds, pending: Callable[[], int] = lambda: 0) -> None:
        self.bounds = bounds
        self.pending = pending  # the writer's waiting messages (set by service.parts)
        self.lag = 0.0  # smoothed event-loop lag, seconds
        self.refused: dict[str, int] = dict.fromkeys(REASONS, 0)
        self._ticker: asyncio.Task[None] | None = None

    def admit(self) -> None:
        """Raise `Saturated` when a new message must not join the writer's queue now."""
        bounds = self.bounds
        if self.pending() >= bounds.max_pending_messages:
            self._refuse("writer")
        if self.lag > bounds.max_loop_lag_seconds:
            self._refuse("lag")

    def admit_queued(self, queued_seconds: float) -> None:
        """Raise `Saturated` when the event waited longer than the bound for its turn."""
        if queued_seconds > self.bounds.max_queue_delay_seconds:
            self._refuse("queue")

    def counts(self) -> dict[str, int]:
        """Refusals so far, by reason (`saturation_refused:<reason>`)."""
        return {f"saturation_refused:{reason}": n for reason, n in self.refused.items()}

    def _refuse(self, reason: str) -> None:
        self.refused[reason] += 1
        raise Saturated(reason, self.bounds.retry_after_seconds)

    # ---- the event-loop lag ------------------------------------------------------------

    def start(self) -> None:
        """Start measuring the event loop's lag (in the serving loop)."""
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick(), name="saturation-lag")

    async def stop(self) -> None:
        """Stop measuring."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        self.lag = 0.0

    async def _tick(self) -> None:
        tick = self.bounds.tick_seconds
        while True:
            start = time.monotonic()
            await asyncio.sleep(tick)
            self.observe_lag(time.monotonic() - start - tick)

    def observe_lag(self, sample: float) -> None:
        """Fold one timer's lateness into the smoothed lag (an EWMA over ~10 ticks)."""
        was_over = self.lag > self.bounds.max_loop_lag_seconds
        self.lag += (max(0.0, sample) - self.lag) * 0.1
        over = self.lag > self.bounds.max_loop_lag_seconds
        if over != was_over:
            log.warning(
                "event loop lag %.0f ms: %s new messages",
                self.lag * 1000,
                "refusing" if over else "accepting again",
            )
