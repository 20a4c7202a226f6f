"""The engine: SQLite pragmas, health probe, unit-of-work scope."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from service.db.engine import (
    check_database,
    create_engine,
    reading,
    session_factory,
    session_scope,
    writing,
)
from service.db.tables import UserRow
from service.settings import Settings
from tests.support.factories import make_user

pytestmark = pytest.mark.anyio

POOL_SIZE = 5  # SQLAlchemy's default, which the SQLite engine keeps


async def test_sqlite_connections_enforce_foreign_keys_in_wal_mode_with_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = create_engine(Settings(data_dir=tmp_path / "nested" / "data"))
    try:
        async with engine.connect() as connection:
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
            journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
    finally:
        await engine.dispose()
    assert (foreign_keys, journal, busy) == (1, "wal", 5000)
    assert (tmp_path / "nested" / "data" / "zizany.db").is_file()


async def test_check_database_is_true_for_a_live_database(engine: AsyncEngine) -> None:
    assert await check_database(engine) is True


async def test_check_database_is_false_when_the_server_is_unreachable(tmp_path: Path) -> None:
    # Port 9 (discard) on localhost is closed on any sane machine: connection refused.
    settings = Settings(data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:9/none")
    engine = create_engine(settings)
    try:
        assert await check_database(engine, timeout_seconds=5) is False
    finally:
        await engine.dispose()


async def test_session_scope_commits_on_success_and_rolls_back_on_error(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with session_scope(sessionmaker) as session:
        kept = await make_user(session, "kept")

    async def fail_halfway() -> None:
        async with session_scope(sessionmaker) as session:
            await make_user(session, "lost")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_halfway()

    async with sessionmaker() as session:
        names = (await session.scalars(select(col(UserRow.username)))).all()
    assert list(names) == [kept.username]


async def test_a_burst_of_reads_and_writes_reuses_the_pooled_sqlite_connections(
    tmp_path: Path,
) -> None:
    # 200 tasks started in one loop turn, each a read then a write: every connection goes
    # back to the pool as its block ends, so the burst never opens more than the pool
    # keeps. When they went back a loop turn later (SQLAlchemy's `async with` closes in a
    # task of its own), each overflow connection, thread and all, was opened and closed
    # again: dozens here, one handshake in five under the bench's connect burst.
    engine = create_engine(Settings(data_dir=tmp_path))
    opened = 0

    def count(*_: Any) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)
    factory = session_factory(engine)
    try:
        async with writing(engine) as connection:
            await connection.execute(text("CREATE TABLE hits (n INTEGER)"))

        async def one(n: int) -> int:
            async with reading(factory) as reader:
                seen = (await reader.execute(text("SELECT count(*) FROM hits"))).scalar_one()
            async with writing(engine) as connection:
                await connection.execute(text("INSERT INTO hits VALUES (:n)"), {"n": n})
            return int(seen)

        await asyncio.gather(*(one(n) for n in range(200)))
        async with reading(factory) as reader:
            total = (await reader.execute(text("SELECT count(*) FROM hits"))).scalar_one()
    finally:
        await engine.dispose()
    assert total == 200
    assert opened <= POOL_SIZE, f"{opened} connections opened for a pool of {POOL_SIZE}"


async def test_writing_commits_on_success_and_rolls_back_on_error(engine: AsyncEngine) -> None:
    async with writing(engine) as connection:
        await connection.execute(text("CREATE TABLE IF NOT EXISTS marks (n INTEGER)"))
        await connection.execute(text("INSERT INTO marks VALUES (1)"))

    async def fail_halfway() -> None:
        async with writing(engine) as connection:
            await connection.execute(text("INSERT INTO marks VALUES (2)"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_halfway()
    async with engine.connect() as connection:
        kept = (await connection.execute(text("SELECT n FROM marks"))).scalars().all()
    assert kept == [1]
