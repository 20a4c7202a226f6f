"""This process's connected sockets, indexed by user and by login (for revocation, logout),
with the moment each connected (for a resync after the backplane lost broadcasts)."""

from __future__ import annotations

import time
from typing import TypeVar

K = TypeVar("K", int, str)


class SocketIndex:
    """Socket ids per user and per login session; only this process's sockets."""

    def __init__(self) -> None:
        self._by_login: dict[str, set[str]] = {}
        self._by_user: dict[int, set[str]] = {}
        self._since: dict[str, float] = {}  # sid -> time.monotonic() when it connected

    def add(self, sid: str, *, user_id: int, login_id: str) -> None:
        """Index a connected socket."""
        self._by_login.setdefault(login_id, set()).add(sid)
        self._by_user.setdefault(user_id, set()).add(sid)
        self._since.setdefault(sid, time.monotonic())

    def remove(self, sid: str, *, user_id: int, login_id: str) -> None:
        """Forget a disconnected socket."""
        _discard(self._by_login, login_id, sid)
        _discard(self._by_user, user_id, sid)
        self._since.pop(sid, None)

    def connected_before(self, moment: float) -> list[str]:
        """The sockets that connected before `moment` (a `time.monotonic()` value)."""
        return [sid for sid, since in self._since.items() if since < moment]

    def of_user(self, user_id: int) -> list[str]:
        """The user's sockets on this process."""
        return list(self._by_user.get(user_id, ()))

    def of_login(self, login_id: str) -> list[str]:
        """The sockets authenticated with this login on this process."""
        return list(self._by_login.get(login_id, ()))


def _discard(index: dict[K, set[str]], key: K, sid: str) -> None:
    sids = index.get(key)
    if sids is not None:
        sids.discard(sid)
        if not sids:
            del index[key]
