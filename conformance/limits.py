"""What the runner expects of the spec's `x-rate-limit`s: when an event must be refused.

The tracker logs, per key of each limit counted on arrival, when the runner's events were
let through. With at least `limit` of them well inside the window, the next event must be
refused with `E_RATE_LIMITED` (the runner checks that, then waits `retryAfterMs` and sends
it again); a refusal with fewer than `limit` of them in the window and its margin is a
violation. Limits counted after permission (`message:create`) are the model's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from conformance.spec import Contract, RateLimitDecl

# How far from the window's edge the runner's clock may be from the server's (one-way
# latency, the time between send and count): inside it, both answers are right.
MARGIN = 0.5


class RateTracker:
    """Per-key logs of the events the server let through, by the runner's clock."""

    def __init__(self, contract: Contract, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits: dict[str, RateLimitDecl] = {
            event: op.rate_limit
            for event, op in contract.receive.items()
            if op.rate_limit is not None and op.rate_limit.counted_after == "payload"
        }
        self.clock = clock
        self._sent: dict[tuple[object, ...], list[float]] = {}

    def _log(self, event: str, user_id: int, payload: Mapping[str, Any]) -> list[float] | None:
        limit = self.limits.get(event)
        if limit is None:
            return None
        log = self._sent.setdefault(limit.key(user_id, payload), [])
        now = self.clock()
        log[:] = [t for t in log if now - t < limit.window_seconds + MARGIN]
        return log

    def must_refuse(self, event: str, user_id: int, payload: Mapping[str, Any]) -> bool:
        """Whether the server must refuse this event now (its key is surely at its limit)."""
        log = self._log(event, user_id, payload)
        if log is None:
            return False
        limit = self.limits[event]
        now = self.clock()
        return sum(1 for t in log if now - t < limit.window_seconds - MARGIN) >= limit.limit

    def may_refuse(self, event: str, user_id: int, payload: Mapping[str, Any]) -> bool:
        """Whether a refusal now is right (the key may be at its limit on the server)."""
        log = self._log(event, user_id, payload)
        return log is not None and len(log) >= self.limits[event].limit

    def let_through(self, event: str, user_id: int, payload: Mapping[str, Any]) -> None:
        """The server let the event through: it counts."""
        log = self._log(event, user_id, payload)
        if log is not None:
            log.append(self.clock())
