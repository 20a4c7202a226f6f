"""Group commit of new messages (service.db.message_writer) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.db.channels import create_channel
from service.db.message_writer import MessageWriter, NewMessage
from tests.support.factories import general_channel_id, make_server, make_user, stored_contents

pytestmark = pytest.mark.anyio


async def _world(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessionmaker() as session:
        author = await make_user(session, "sara")
        server = await make_server(session, author)
        channel_id = await general_channel_id(session, server.id)
        other = await create_channel(session=session, server_id=server.id, name="other")
        await session.commit()
        return author.id, channel_id, other.id


async def _stored(sessionmaker: async_sessionmaker[AsyncSession], channel_id: int) -> list[str]:
    async with sessionmaker() as session:
        return await stored_contents(session, channel_id)


async def test_concurrent_messages_share_batches_and_get_ids_in_arrival_order(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user_id, channel_id, other_id = await _world(sessionmaker)
    writer = MessageWriter(engine, max_batch=50)
    messages = [NewMessage(channel_id if i % 3 else other_id, user_id, f"m{i}") for i in range(300)]
    stored = await asyncio.gather(*(writer.store(m) for m in messages))

    assert [s.content for s in stored] == [m.content for m in messages]
    assert [s.id for s in stored] == sorted(s.id for s in stored)  # arrival order
    assert writer.rows == 300
    assert writer.batches < 300 / 10  # coalesced, not one commit per message
    assert await _stored(sessionmaker, channel_id) == [
        m.content for m in messages if m.channel_id == channel_id
    ]
    assert all(s.created_at.tzinfo is not None for s in stored)


async def test_a_message_to_a_missing_channel_fails_alone_and_its_batch_is_stored(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user_id, channel_id, _ = await _world(sessionmaker)
    writer = MessageWriter(engine)
    messages = [
        NewMessage(channel_id, user_id, "a"),
        NewMessage(999_999, user_id, "lost"),
        NewMessage(channel_id, user_id, "b"),
    ]
    results = await asyncio.gather(*(writer.store(m) for m in messages), return_exceptions=True)

    assert isinstance(results[1], Exception)
    assert [r.content for r in (results[0], results[2])] == ["a", "b"]  # type: ignore[union-attr]
    assert await _stored(sessionmaker, channel_id) == ["a", "b"]


async def test_a_lone_message_is_stored_at_once(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user_id, channel_id, _ = await _world(sessionmaker)
    writer = MessageWriter(engine)
    first = await writer.store(NewMessage(channel_id, user_id, "one"))
    second = await writer.store(NewMessage(channel_id, user_id, "two"))
    assert second.id > first.id and writer.batches == 2
    assert await _stored(sessionmaker, channel_id) == ["one", "two"]
