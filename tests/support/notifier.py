"""A Notifier that records what REST asked the real-time side to do (the socket seam).

The real Socket.IO side has its own tests; these check that each REST change asks for
the right effects, in order, after it committed. `online` plays presence.
"""

from __future__ import annotations

import threading
from typing import Any

from generated.realtime.models import Channel, Message, ServerInfo
from service.chat.notifier import Notifier


class RecordingNotifier(Notifier):
    """A service.chat.notifier.Notifier that appends `(effect, arguments)`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.online: set[int] = set()
        self._lock = threading.Lock()

    def _record(self, effect: str, **arguments: Any) -> None:
        with self._lock:
            self.calls.append((effect, arguments))

    def effects(self, **match: Any) -> list[tuple[str, dict[str, Any]]]:
        """The recorded calls whose arguments include `match` (e.g. server_id=3), in order."""
        with self._lock:
            calls = list(self.calls)
        return [
            (effect, arguments)
            for effect, arguments in calls
            if all(arguments.get(key) == value for key, value in match.items())
        ]

    def names(self, **match: Any) -> list[str]:
        """Just the effect names of `effects(**match)`."""
        return [effect for effect, _ in self.effects(**match)]

    async def message_created(self, message: Message) -> None:
        self._record("message_created", message=message.model_dump(), channel_id=message.channel_id)

    async def message_updated(self, message: Message) -> None:
        self._record("message_updated", message=message.model_dump(), channel_id=message.channel_id)

    async def message_deleted(self, *, message_id: int, channel_id: int) -> None:
        self._record("message_deleted", message_id=message_id, channel_id=channel_id)

    async def member_joined(self, *, server_id: int, user_id: int, username: str) -> None:
        self._record("member_joined", server_id=server_id, user_id=user_id, username=username)

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        self._record("member_left", server_id=server_id, user_id=user_id, username=username)

    async def member_updated(self, *, server_id: int, user_id: int, role: str) -> None:
        self._record("member_updated", server_id=server_id, user_id=user_id, role=role)

    async def server_updated(self, server: ServerInfo) -> None:
        self._record("server_updated", server=server.model_dump(), server_id=server.id)

    async def server_deleted(self, *, server_id: int, channel_ids: list[int]) -> None:
        self._record("server_deleted", server_id=server_id, channel_ids=list(channel_ids))

    async def channel_created(self, channel: Channel) -> None:
        self._record("channel_created", channel=channel.model_dump(), server_id=channel.server_id)

    async def channel_updated(self, channel: Channel) -> None:
        self._record("channel_updated", channel=channel.model_dump(), server_id=channel.server_id)

    async def channel_deleted(self, *, channel_id: int, server_id: int) -> None:
        self._record("channel_deleted", channel_id=channel_id, server_id=server_id)

    async def login_ended(self, login_id: str) -> None:
        self._record("login_ended", login_id=login_id)

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        return {user_id for user_id in user_ids if user_id in self.online}
