"""The rate limits of the client events: the spec's `x-rate-limit`s with the deployment's
values, and the counters that enforce them (one per counter name)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from contract_runtime.limits import RateLimit
from generated.realtime.limits import RATE_LIMITS
from service.auth.throttle import SlidingWindowCounter
from service.settings import Settings

MESSAGES = RATE_LIMITS["message:create"].counter


def configured_limits(settings: Settings) -> dict[str, RateLimit]:
    """Event name → its limit: the spec's, with the values the settings give its counter."""
    unknown = set(settings.rate_limits) - {limit.counter for limit in RATE_LIMITS.values()}
    if unknown:
        raise ValueError(f"rate_limits names counters the spec does not have: {sorted(unknown)}")
    out: dict[str, RateLimit] = {}
    for event, limit in RATE_LIMITS.items():
        if limit.counter == MESSAGES:
            limit = limit.with_values(
                settings.message_rate_limit, settings.message_rate_window_seconds
            )
        elif limit.counter in settings.rate_limits:
            chosen = settings.rate_limits[limit.counter]
            limit = limit.with_values(chosen.limit, chosen.window_seconds)
        out[event] = limit
    return out


CounterFactory = Callable[[str, int, float], SlidingWindowCounter]
"""(counter name, limit, window seconds) → a sliding-window counter."""


class EventLimits:
    """The `Limiter` of the dispatcher: one sliding window per counter of the spec.

    The counters are in-process or in Redis (service.parts), so with Redis every process
    of a deployment shares each count.
    """

    def __init__(self, limits: Mapping[str, RateLimit], make: CounterFactory) -> None:
        self.limits = dict(limits)
        self.counters: dict[str, SlidingWindowCounter] = {}
        for limit in self.limits.values():
            if limit.counter not in self.counters and limit.counted_after == "payload":
                self.counters[limit.counter] = make(
                    limit.counter, limit.limit, limit.window_seconds
                )

    async def acquire(self, limit: RateLimit, key: str) -> float | None:
        """Count one event of `key`, or the seconds to wait when it is at its limit."""
        return await self.counters[limit.counter].acquire(key)
