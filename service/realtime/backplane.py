"""What ties several processes together, as the rest of the real-time side sees it.

`Backplane` is implemented on Redis by service.realtime.scaleout; a single process has
none. A backplane calls back into this process through `Control` (the broadcaster applies
other processes' operations, and makes the sockets catch up after the backplane lost
broadcasts) and `Announcements` (the announcer tells the rooms).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from service.realtime.typing_state import Change


class Control(Protocol):
    """Applies the control operations of other processes."""

    async def apply_control(self, op: Mapping[str, Any]) -> None:
        """Apply another process's control operation to this process's sockets."""
        ...

    def resync(self, before: float, why: str) -> None:
        """Broadcasts of other processes may have been lost up to `before` (a
        `time.monotonic()` value): make the sockets connected before then catch up."""
        ...


class Announcements(Protocol):
    """Tells the rooms what changed in the shared state."""

    async def announce_typing(self, change: Change) -> None:
        """A shared typing state expired: `typing:update` to its channel room."""
        ...

    async def announce_presence_of(self, user_ids: Iterable[int]) -> None:
        """These users' presence changed (leases lapsed): `presence:update` to their servers."""
        ...


class Backplane(Protocol):
    """Starts and stops the shared state of one process; carries control operations."""

    async def start(self, control: Control, announcements: Announcements) -> None:
        """Start the shared state's background work; called once, before serving."""
        ...

    async def stop(self) -> None:
        """Stop it and release this process's share of the state; called at shutdown."""
        ...

    async def publish(self, op: dict[str, Any]) -> None:
        """Send a control operation to the other processes (they `apply_control` it)."""
        ...

    def counters(self) -> dict[str, int]:
        """Counts worth watching (e.g. broadcasts that could not be published)."""
        ...
