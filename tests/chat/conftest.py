"""The domain layer on a real, migrated SQLite file: no server, no sockets, no mocks.

The notifier is tests.support.notifier's RecordingNotifier (a real `Notifier` that records
what a change asked the sockets to do).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.throttle import InMemorySlidingWindow
from service.chat.domain import Chat
from service.chat.notifier import Guarded
from service.chat.parts import ChatParts
from service.db import memberships
from service.db.engine import create_engine_for_url, session_factory
from service.db.message_writer import MessageWriter
from service.db.migrate import upgrade_url
from service.db.tables import UserRow
from tests.support.factories import general_channel_id, make_server, make_user
from tests.support.notifier import RecordingNotifier

RATE_LIMIT = 3


@dataclass
class Place:
    """A server and its `general` channel."""

    server_id: int
    channel_id: int


@dataclass
class Domain:
    """The domain layer, what it told the sockets, and the database to seed and inspect."""

    chat: Chat
    notifier: RecordingNotifier
    sessionmaker: async_sessionmaker[AsyncSession]

    async def user(self, name: str) -> UserRow:
        async with self.sessionmaker() as s:
            row = await make_user(s, name)
            await s.commit()
        return row

    async def place(self, owner: UserRow, *members: UserRow, public: bool = False) -> Place:
        async with self.sessionmaker() as s:
            server = await make_server(s, owner, is_public=public)
            for member in members:
                await memberships.add_member(session=s, server_id=server.id, user_id=member.id)
            channel_id = await general_channel_id(s, server.id)
            await s.commit()
        return Place(server.id, channel_id)


@pytest.fixture
async def domain(tmp_path: Path) -> AsyncIterator[Domain]:
    url = f"sqlite+aiosqlite:///{tmp_path}/chat.db"
    await upgrade_url(url)
    engine = create_engine_for_url(url)
    sessionmaker = session_factory(engine)
    notifier = RecordingNotifier()
    rate = InMemorySlidingWindow(limit=RATE_LIMIT, window_seconds=60)
    chat = Chat(
        ChatParts(
            sessionmaker=sessionmaker,
            notifier=Guarded(notifier),
            message_rate=rate,
            message_writer=MessageWriter(engine),
        )
    )
    try:
        yield Domain(chat, notifier, sessionmaker)
    finally:
        await engine.dispose()
