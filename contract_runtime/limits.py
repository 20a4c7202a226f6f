"""The spec's per-operation rate limits (`x-rate-limit`), as data the router carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

USER = "user"
"""The `per` entry that names the signed-in user rather than a payload field."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` events per `window_seconds` for each key made of `per`.

    Operations with the same `counter` share one count. `counted_after` is `payload` (the
    dispatcher counts the event once its payload is valid, before the handler runs) or
    `permission` (the domain layer counts it after its visibility and permission checks).
    """

    counter: str
    limit: int
    window_seconds: float
    per: tuple[str, ...]
    counted_after: Literal["payload", "permission"] = "payload"

    def with_values(self, limit: int, window_seconds: float) -> RateLimit:
        """The same limit with other values (a deployment's configuration)."""
        return RateLimit(self.counter, limit, window_seconds, self.per, self.counted_after)

    def key(self, subject: str, payload: Mapping[str, Any]) -> str:
        """The counter key of one event: the counter, then each `per` part in order."""
        parts = [self.counter]
        for name in self.per:
            parts.append(subject if name == USER else str(payload.get(name)))
        return ":".join(parts)


class Limiter(Protocol):
    """Counts events against their limit: None when let through (and counted), else the
    seconds until the key is below its limit again."""

    async def acquire(self, limit: RateLimit, key: str) -> float | None: ...
