"""Typing state per channel and user, with expiry.

A user types in a channel while at least one of their sockets does; only changes of
that state are announced. A start without a stop expires after `timeout` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

Key = tuple[int, int]  # (channel_id, user_id)


@dataclass(frozen=True, slots=True)
class Change:
    """A user's typing state in a channel changed, caused by socket `sid`."""

    channel_id: int
    user_id: int
    username: str
    sid: str
    is_typing: bool


class TypingTracker:
    """Typing sockets per (channel, user); calls `on_expire` when a start times out."""

    def __init__(
        self, timeout: float, on_expire: Callable[[Change], Coroutine[Any, Any, None]]
    ) -> None:
        self.timeout = timeout
        self._on_expire = on_expire
        self._typing: dict[Key, dict[str, asyncio.TimerHandle]] = {}
        self._usernames: dict[Key, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def is_typing(self, channel_id: int, user_id: int) -> bool:
        """Whether the user types in the channel now."""
        return (channel_id, user_id) in self._typing

    def start(self, channel_id: int, user_id: int, username: str, sid: str) -> Change | None:
        """A socket started typing (again); the change, if the user was not typing."""
        key = (channel_id, user_id)
        sockets = self._typing.setdefault(key, {})
        first = not sockets
        old = sockets.pop(sid, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        sockets[sid] = loop.call_later(self.timeout, self._expire, key, sid)
        self._usernames[key] = username
        return Change(channel_id, user_id, username, sid, True) if first else None

    def stop(self, channel_id: int, user_id: int, sid: str) -> Change | None:
        """A socket stopped typing; the change, if no other socket of the user still types."""
        key = (channel_id, user_id)
        sockets = self._typing.get(key)
        if sockets is None or sid not in sockets:
            return None
        sockets.pop(sid).cancel()
        if sockets:
            return None
        del self._typing[key]
        username = self._usernames.pop(key)
        return Change(channel_id, user_id, username, sid, False)

    def drop_socket(self, sid: str, channel_id: int | None = None) -> list[Change]:
        """A socket left a channel room (or every room, when `channel_id` is None)."""
        keys = [k for k, s in self._typing.items() if sid in s]
        changes = []
        for ch, user in keys:
            if channel_id is None or ch == channel_id:
                change = self.stop(ch, user, sid)
                if change is not None:
                    changes.append(change)
        return changes

    def drop_channel(self, channel_id: int) -> None:
        """Forget a deleted channel's state (its room is gone: nobody to tell)."""
        for key in [k for k in self._typing if k[0] == channel_id]:
            for handle in self._typing.pop(key).values():
                handle.cancel()
            self._usernames.pop(key, None)

    def _expire(self, key: Key, sid: str) -> None:
        change = self.stop(key[0], key[1], sid)
        if change is not None:
            task = asyncio.get_running_loop().create_task(self._on_expire(change))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
