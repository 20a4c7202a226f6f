"""Typing state per channel and user, with expiry.

A user types in a channel while at least one of their sockets does; only changes of
that state are announced. A start without a stop expires after `timeout` seconds.

The state itself sits behind `TypingStore`: in this process (`InMemoryTypingStore`) or
in Redis when several processes serve the same channel, so that the change of state is
decided once for all of them. The expiry timer of a socket lives in the process that owns
the socket; that process announces the expiry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("zizany.realtime")

Key = tuple[int, int]  # (channel_id, user_id)


@dataclass(frozen=True, slots=True)
class Change:
    """A user's typing state in a channel changed, caused by socket `sid`."""

    channel_id: int
    user_id: int
    username: str
    sid: str
    is_typing: bool


class TypingStore(Protocol):
    """Which sockets type in which channel, for one process or shared by several."""

    async def start(self, channel_id: int, user_id: int, username: str, sid: str) -> bool:
        """Record that the socket types; True when the user was not typing in the channel."""
        ...

    async def stop(self, channel_id: int, user_id: int, username: str, sid: str) -> bool:
        """Forget the socket's typing; True when it typed and no other socket of the user does."""
        ...

    async def drop_channel(self, channel_id: int) -> None:
        """Forget everything about a deleted channel."""
        ...


class InMemoryTypingStore:
    """Typing sockets per (channel, user), for a single process."""

    def __init__(self) -> None:
        self._typing: dict[Key, set[str]] = {}

    async def start(self, channel_id: int, user_id: int, username: str, sid: str) -> bool:
        """Record that the socket types; True when the user was not typing."""
        sockets = self._typing.setdefault((channel_id, user_id), set())
        first = not sockets
        sockets.add(sid)
        return first

    async def stop(self, channel_id: int, user_id: int, username: str, sid: str) -> bool:
        """Forget the socket's typing; True when no other socket of the user types."""
        key = (channel_id, user_id)
        sockets = self._typing.get(key)
        if sockets is None or sid not in sockets:
            return False
        sockets.discard(sid)
        if sockets:
            return False
        del self._typing[key]
        return True

    async def drop_channel(self, channel_id: int) -> None:
        """Forget a deleted channel."""
        for key in [k for k in self._typing if k[0] == channel_id]:
            del self._typing[key]


class TypingTracker:
    """This process's typing sockets and their expiry timers, over a (shared) TypingStore."""

    def __init__(
        self,
        timeout: float,
        on_expire: Callable[[Change], Coroutine[Any, Any, None]],
        store: TypingStore | None = None,
    ) -> None:
        self.timeout = timeout
        self.store: TypingStore = store or InMemoryTypingStore()
        self._on_expire = on_expire
        # The sockets of this process that type, with their expiry timers and usernames.
        self._timers: dict[Key, dict[str, asyncio.TimerHandle]] = {}
        self._usernames: dict[Key, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, channel_id: int, user_id: int, username: str, sid: str) -> Change | None:
        """A socket started typing (again); the change, if the user was not typing."""
        key = (channel_id, user_id)
        timers = self._timers.setdefault(key, {})
        old = timers.pop(sid, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        timers[sid] = loop.call_later(self.timeout, self._expire, key, sid)
        self._usernames[key] = username
        try:
            first = await self.store.start(channel_id, user_id, username, sid)
        except BaseException:
            self._forget(key, sid)
            raise
        return Change(channel_id, user_id, username, sid, True) if first else None

    async def stop(self, channel_id: int, user_id: int, sid: str) -> Change | None:
        """A socket stopped typing; the change, if no other socket of the user still types."""
        key = (channel_id, user_id)
        if sid not in self._timers.get(key, {}):
            return None
        username = self._usernames[key]
        self._forget(key, sid)
        if not await self.store.stop(channel_id, user_id, username, sid):
            return None
        return Change(channel_id, user_id, username, sid, False)

    async def drop_socket(self, sid: str, channel_id: int | None = None) -> list[Change]:
        """A socket left a channel room (or every room, when `channel_id` is None)."""
        keys = [k for k, timers in self._timers.items() if sid in timers]
        changes = []
        for ch, user in keys:
            if channel_id is None or ch == channel_id:
                change = await self.stop(ch, user, sid)
                if change is not None:
                    changes.append(change)
        return changes

    async def drop_channel(self, channel_id: int, *, shared: bool = True) -> None:
        """Forget a deleted channel (its room is gone: nobody to tell).

        `shared=False` forgets only this process's timers: another process already
        cleared the shared state.
        """
        for key in [k for k in self._timers if k[0] == channel_id]:
            for handle in self._timers.pop(key).values():
                handle.cancel()
            self._usernames.pop(key, None)
        if shared:
            await self.store.drop_channel(channel_id)

    def _forget(self, key: Key, sid: str) -> None:
        timers = self._timers.get(key)
        if timers is None:
            return
        handle = timers.pop(sid, None)
        if handle is not None:
            handle.cancel()
        if not timers:
            del self._timers[key]
            self._usernames.pop(key, None)

    def _expire(self, key: Key, sid: str) -> None:
        # Taken out of the index at once (a new start from the socket gets a new timer),
        # then the shared state is asked whether the user stopped typing.
        if sid not in self._timers.get(key, {}):
            return
        username = self._usernames[key]
        self._forget(key, sid)
        task = asyncio.get_running_loop().create_task(self._expired(key, username, sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expired(self, key: Key, username: str, sid: str) -> None:
        try:
            if await self.store.stop(key[0], key[1], username, sid):
                await self._on_expire(Change(key[0], key[1], username, sid, False))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("typing expiry of socket %s in channel %s failed", sid, key[0])
