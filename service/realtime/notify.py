"""What the REST API tells the real-time side after it changed something.

REST routes call these methods after their transaction committed; each sends the
contract's events through the generated, validated emitter and, where access was
lost, takes sockets out of rooms at once.
"""

from __future__ import annotations

from typing import Protocol

from generated.realtime.models import Channel, Message, ServerInfo


class Notifier(Protocol):
    """The real-time effects of REST changes (implemented in service.realtime.server)."""

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

    async def session_ended(self, session_id: str) -> None:
        """Disconnect every socket authenticated with that session (logout)."""

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Which of these users have at least one connected socket."""
