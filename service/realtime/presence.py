"""Who is online: users with at least one connected socket.

`Presence` is the interface; `InMemoryPresence` serves one process (the embedded
default). A Redis-backed implementation serves several processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Presence(Protocol):
    """Connected sockets per user."""

    async def connect(self, user_id: int, sid: str) -> bool:
        """Record a socket; True when it is the user's first (the user came online)."""
        ...

    async def disconnect(self, user_id: int, sid: str) -> bool:
        """Forget a socket; True when it was the user's last (the user went offline)."""
        ...

    async def online(self, user_ids: Iterable[int]) -> set[int]:
        """Which of these users are online."""
        ...


class InMemoryPresence:
    """Presence for a single process: a set of socket ids per user."""

    def __init__(self) -> None:
        self._sockets: dict[int, set[str]] = {}

    async def connect(self, user_id: int, sid: str) -> bool:
        """Record a socket; True when it is the user's first."""
        sockets = self._sockets.setdefault(user_id, set())
        first = not sockets
        sockets.add(sid)
        return first

    async def disconnect(self, user_id: int, sid: str) -> bool:
        """Forget a socket; True when it was the user's last."""
        sockets = self._sockets.get(user_id)
        if not sockets or sid not in sockets:
            return False
        sockets.discard(sid)
        if sockets:
            return False
        del self._sockets[user_id]
        return True

    async def online(self, user_ids: Iterable[int]) -> set[int]:
        """Which of these users are online."""
        return {uid for uid in user_ids if uid in self._sockets}
