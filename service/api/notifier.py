"""What REST handlers hold to reach the real-time side.

`GuardedNotifier` wraps the real-time side's `Notifier`: routes call it after their
transaction committed, when the change is already the truth, so a failing broadcast is
logged with its traceback instead of turning a successful request into a 500.
`NoSockets` is the notifier of an app without a Socket.IO server (nobody is connected).
"""

from __future__ import annotations

import logging

from generated.realtime.models import Channel, Message, ServerInfo
from service.realtime.notify import Notifier

logger = logging.getLogger(__name__)


class NoSockets:
    """A `Notifier` for an app that serves no sockets: nothing to send, nobody online."""

    async def message_created(self, message: Message) -> None:
        """Nobody to tell."""

    async def message_updated(self, message: Message) -> None:
        """Nobody to tell."""

    async def message_deleted(self, *, message_id: int, channel_id: int) -> None:
        """Nobody to tell."""

    async def member_joined(self, *, server_id: int, user_id: int, username: str) -> None:
        """Nobody to tell."""

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        """Nobody to tell."""

    async def member_updated(self, *, server_id: int, user_id: int, role: str) -> None:
        """Nobody to tell."""

    async def server_updated(self, server: ServerInfo) -> None:
        """Nobody to tell."""

    async def server_deleted(self, *, server_id: int, channel_ids: list[int]) -> None:
        """Nobody to tell."""

    async def channel_created(self, channel: Channel) -> None:
        """Nobody to tell."""

    async def channel_updated(self, channel: Channel) -> None:
        """Nobody to tell."""

    async def channel_deleted(self, *, channel_id: int, server_id: int) -> None:
        """Nobody to tell."""

    async def session_ended(self, session_id: str) -> None:
        """No sockets to disconnect."""

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Without sockets nobody is online."""
        return set()


class GuardedNotifier:
    """A `Notifier` that never fails the request that calls it after its commit."""

    def __init__(self, inner: Notifier) -> None:
        self.inner = inner

    def _failed(self, effect: str) -> None:
        logger.exception("real-time effect %r failed after the change was committed", effect)

    async def message_created(self, message: Message) -> None:
        """`message:new` to the message's channel room."""
        try:
            await self.inner.message_created(message)
        except Exception:
            self._failed("message_created")

    async def message_updated(self, message: Message) -> None:
        """`message:updated` to the message's channel room."""
        try:
            await self.inner.message_updated(message)
        except Exception:
            self._failed("message_updated")

    async def message_deleted(self, *, message_id: int, channel_id: int) -> None:
        """`message:deleted` to the channel room."""
        try:
            await self.inner.message_deleted(message_id=message_id, channel_id=channel_id)
        except Exception:
            self._failed("message_deleted")

    async def member_joined(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_joined` and `presence:update` to the server room."""
        try:
            await self.inner.member_joined(server_id=server_id, user_id=user_id, username=username)
        except Exception:
            self._failed("member_joined")

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_left`; the user's sockets leave the server's rooms; presence."""
        try:
            await self.inner.member_left(server_id=server_id, user_id=user_id, username=username)
        except Exception:
            self._failed("member_left")

    async def member_updated(self, *, server_id: int, user_id: int, role: str) -> None:
        """`server:member_updated` to the server room."""
        try:
            await self.inner.member_updated(server_id=server_id, user_id=user_id, role=role)
        except Exception:
            self._failed("member_updated")

    async def server_updated(self, server: ServerInfo) -> None:
        """`server:updated` to the server room."""
        try:
            await self.inner.server_updated(server)
        except Exception:
            self._failed("server_updated")

    async def server_deleted(self, *, server_id: int, channel_ids: list[int]) -> None:
        """`server:deleted`, then every socket leaves the server's and its channels' rooms."""
        try:
            await self.inner.server_deleted(server_id=server_id, channel_ids=channel_ids)
        except Exception:
            self._failed("server_deleted")

    async def channel_created(self, channel: Channel) -> None:
        """`channel:created` to the server room."""
        try:
            await self.inner.channel_created(channel)
        except Exception:
            self._failed("channel_created")

    async def channel_updated(self, channel: Channel) -> None:
        """`channel:updated` to the server room."""
        try:
            await self.inner.channel_updated(channel)
        except Exception:
            self._failed("channel_updated")

    async def channel_deleted(self, *, channel_id: int, server_id: int) -> None:
        """`channel:deleted` to the server room, then every socket leaves the channel room."""
        try:
            await self.inner.channel_deleted(channel_id=channel_id, server_id=server_id)
        except Exception:
            self._failed("channel_deleted")

    async def session_ended(self, session_id: str) -> None:
        """Disconnect every socket authenticated with that session (logout)."""
        try:
            await self.inner.session_ended(session_id)
        except Exception:
            self._failed("session_ended")

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Which of these users are online; nobody, if presence cannot be asked."""
        if not user_ids:
            return set()
        try:
            return await self.inner.online_user_ids(user_ids)
        except Exception:
            logger.exception("presence lookup failed; answering with nobody online")
            return set()
