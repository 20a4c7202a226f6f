"""This process's connected sockets, indexed by user and by login (for revocation, logout)."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K", int, str)


class SocketIndex:
    """Socket ids per user and per login session; only this process's sockets."""

    def __init__(self) -> None:
        self._by_login: dict[str, set[str]] = {}
        self._by_user: dict[int, set[str]] = {}

    def add(self, sid: str, *, user_id: int, login_id: str) -> None:
        """Index a connected socket."""
        self._by_login.setdefault(login_id, set()).add(sid)
        self._by_user.setdefault(user_id, set()).add(sid)

    def remove(self, sid: str, *, user_id: int, login_id: str) -> None:
        """Forget a disconnected socket."""
        _discard(self._by_login, login_id, sid)
        _discard(self._by_user, user_id, sid)

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
