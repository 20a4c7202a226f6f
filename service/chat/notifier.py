"""What a change tells the connected clients: the contract's events, after the commit.

`Notifier` is the base with a no-op for every effect (the notifier of an app that serves
no sockets: nobody to tell, nobody online); the real-time side overrides each one
(service.realtime.broadcaster). Domain operations call it through `Guarded`: after the
transaction committed the change is the truth, so a failing broadcast is logged with its
traceback instead of failing the operation that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from generated.realtime.models import Channel, Message, ServerInfo

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class Notifier:
    """The real-time effects of domain changes; every method does nothing by default."""

    async def message_created(self, message: Message) -> None:
        """`message:new` to the message's channel room."""

    async def message_updated(self, message: Message) -> None:
        """`message:updated` to the message's channel room."""

    async def message_deleted(self, *, message_id: int, channel_id: int) -> None:
        """`message:deleted` to the channel room."""

    async def member_joined(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_joined` and `presence:update` to the server room."""

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_left`; the user's sockets leave the server's rooms; presence."""

    async def member_updated(self, *, server_id: int, user_id: int, role: str) -> None:
        """`server:member_updated` to the server room."""

    async def server_updated(self, server: ServerInfo) -> None:
        """`server:updated` to the server room."""

    async def server_deleted(self, *, server_id: int, channel_ids: list[int]) -> None:
        """`server:deleted`, then every socket leaves the server's and its channels' rooms."""

    async def channel_created(self, channel: Channel) -> None:
        """`channel:created` to the server room."""

    async def channel_updated(self, channel: Channel) -> None:
        """`channel:updated` to the server room."""

    async def channel_deleted(self, *, channel_id: int, server_id: int) -> None:
        """`channel:deleted` to the server room, then every socket leaves the channel room."""

    async def login_ended(self, login_id: str) -> None:
        """Disconnect every socket authenticated with that login session (logout)."""

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Which of these users have at least one connected socket (nobody, without sockets)."""
        return set()


async def guarded(
    effect: Callable[P, Awaitable[T]], fallback: T, *args: P.args, **kwargs: P.kwargs
) -> T:
    """`effect(*args, **kwargs)`, or `fallback` (logged with its traceback) if it fails."""
    try:
        return await effect(*args, **kwargs)
    except Exception:
        logger.exception("real-time effect %r failed after the change was committed", effect)
        return fallback


class Guarded(Notifier):
    """A `Notifier` that never fails the operation that calls it after its commit."""

    def __init__(self, inner: Notifier) -> None:
        self.inner = inner

    async def message_created(self, message: Message) -> None:
        """`message:new` to the message's channel room."""
        await guarded(self.inner.message_created, None, message)

    async def message_updated(self, message: Message) -> None:
        """`message:updated` to the message's channel room."""
        await guarded(self.inner.message_updated, None, message)

    async def message_deleted(self, *, message_id: int, channel_id: int) -> None:
        """`message:deleted` to the channel room."""
        await guarded(
            self.inner.message_deleted, None, message_id=message_id, channel_id=channel_id
        )

    async def member_joined(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_joined` and `presence:update` to the server room."""
        await guarded(
            self.inner.member_joined, None, server_id=server_id, user_id=user_id, username=username
        )

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_left`; the user's sockets leave the server's rooms; presence."""
        await guarded(
            self.inner.member_left, None, server_id=server_id, user_id=user_id, username=username
        )

    async def member_updated(self, *, server_id: int, user_id: int, role: str) -> None:
        """`server:member_updated` to the server room."""
        await guarded(
            self.inner.member_updated, None, server_id=server_id, user_id=user_id, role=role
        )

    async def server_updated(self, server: ServerInfo) -> None:
        """`server:updated` to the server room."""
        await guarded(self.inner.server_updated, None, server)

    async def server_deleted(self, *, server_id: int, channel_ids: list[int]) -> None:
        """`server:deleted`, then every socket leaves the server's and its channels' rooms."""
        await guarded(self.inner.server_deleted, None, server_id=server_id, channel_ids=channel_ids)

    async def channel_created(self, channel: Channel) -> None:
        """`channel:created` to the server room."""
        await guarded(self.inner.channel_created, None, channel)

    async def channel_updated(self, channel: Channel) -> None:
        """`channel:updated` to the server room."""
        await guarded(self.inner.channel_updated, None, channel)

    async def channel_deleted(self, *, channel_id: int, server_id: int) -> None:
        """`channel:deleted` to the server room, then every socket leaves the channel room."""
        await guarded(self.inner.channel_deleted, None, channel_id=channel_id, server_id=server_id)

    async def login_ended(self, login_id: str) -> None:
        """Disconnect every socket authenticated with that login session (logout)."""
        await guarded(self.inner.login_ended, None, login_id)

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Which of these users are online; nobody, if presence cannot be asked."""
        if not user_ids:
            return set()
        return await guarded(self.inner.online_user_ids, set(), user_ids)
