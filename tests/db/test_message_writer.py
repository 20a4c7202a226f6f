"""Group commit of new messages (service.db.message_writer) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.db.channels import create_channel
from service.db.engine import writing
from service.db.message_writer import MessageWriter, NewMessage
from service.db.tables import MessageRow, core_table
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


async def test_on_sqlite_batches_skip_the_pool_and_store_what_sqlalchemy_stores(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], backend: str
) -> None:
    # service.db.sqlite_writes: the same rows, byte for byte, as the pooled path writes.
    user_id, channel_id, _ = await _world(sessionmaker)
    writer = MessageWriter(engine)
    checkouts = 0

    def count(*_: object) -> None:
        nonlocal checkouts
        checkouts += 1

    event.listen(engine.sync_engine.pool, "checkout", count)
    try:
        direct = await writer.store(NewMessage(channel_id, user_id, "direct"))
    finally:
        event.remove(engine.sync_engine.pool, "checkout", count)
    assert checkouts == (0 if backend == "sqlite" else 1)
    async with writing(engine) as connection:  # the pooled path, as SQLAlchemy writes it
        await connection.execute(
            insert(core_table(MessageRow)),
            {
                "channel_id": channel_id,
                "user_id": user_id,
                "content": "pooled",
                "created_at": direct.created_at,
                "updated_at": direct.created_at,
            },
        )
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT content, CAST(created_at AS TEXT), CAST(updated_at AS TEXT) "
                    "FROM messages WHERE channel_id = :c ORDER BY id"
                ),
                {"c": channel_id},
            )
        ).all()
    assert [r[0] for r in rows] == ["direct", "pooled"]
    assert rows[0][1:] == rows[1][1:]  # the same stored form of the same instant


async def test_a_batch_waits_for_a_write_under_way_on_a_pooled_connection(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # While a pooled connection of this process holds the write lock, the direct insert
    # must not run on the loop (it would wait for a transaction that cannot go on).
    user_id, channel_id, _ = await _world(sessionmaker)
    writer = MessageWriter(engine)
    started = asyncio.get_running_loop().time()
    async with writing(engine) as connection:
        await connection.execute(
            text("UPDATE channels SET name = 'renamed' WHERE id = :c"), {"c": channel_id}
        )
        store = asyncio.ensure_future(writer.store(NewMessage(channel_id, user_id, "later")))
        await asyncio.sleep(0.2)
        ticked = asyncio.get_running_loop().time() - started
    stored = await asyncio.wait_for(store, 10)
    assert ticked < 2  # the loop went on meanwhile (no busy_timeout wait on it)
    assert stored.content == "later"
    assert await _stored(sessionmaker, channel_id) == ["later"]


async def test_a_missing_channel_is_sqlalchemys_integrity_error_on_every_path(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user_id, _, _ = await _world(sessionmaker)
    writer = MessageWriter(engine)
    with pytest.raises(IntegrityError):
        await writer.store(NewMessage(999_999, user_id, "nowhere"))
