"""The engine: SQLite pragmas, health probe, unit-of-work scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from service.db.engine import check_database, create_engine, session_scope
from service.db.tables import UserRow
from service.settings import Settings
from tests.support.factories import make_user

pytestmark = pytest.mark.anyio


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
