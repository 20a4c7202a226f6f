"""What every domain operation uses: the database, the notifier, the message rate."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.throttle import SlidingWindowCounter
from service.chat.notifier import Guarded
from service.db.message_writer import MessageWriter


@dataclass(slots=True)
class ChatParts:
    """The process's parts the domain layer needs (built by service.parts)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    # Every domain effect goes out through the guard: it never fails a committed change.
    notifier: Guarded
    # Messages per user per window, one counter for REST and sockets alike.
    message_rate: SlidingWindowCounter
    # New messages are stored in batches: one statement and one commit for all waiting.
    message_writer: MessageWriter


class Operations:
    """A group of domain operations (channels, members, …): each works on the parts."""

    def __init__(self, parts: ChatParts) -> None:
        self.parts = parts
