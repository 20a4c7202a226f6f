"""Database fixtures: every DB test runs on a migrated SQLite file and on PostgreSQL.

PostgreSQL (127.0.0.1:5432, user postgres, trust auth) gets one uniquely named database
per test session, dropped at the end; its tables are emptied before each test. When the
server is unreachable the PostgreSQL variants skip, unless CI=true, when they fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.db.engine import create_engine, session_factory
from service.db.migrate import upgrade_url
from service.db.tables import metadata
from service.settings import Settings
from tests.support.services import (
    BACKENDS,
    POSTGRES_HOST,
    POSTGRES_PORT,
    create_postgres_database,
    drop_postgres_database,
    need,
    postgres_admin,
    postgres_url,
    run_in_fresh_loop,
)


@pytest.fixture(scope="session")
def postgres_available() -> None:
    """Skip (or, with CI=true, fail) when the PostgreSQL server does not answer."""
    try:
        run_in_fresh_loop(postgres_admin("SELECT 1"))
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        reason = f"PostgreSQL at {POSTGRES_HOST}:{POSTGRES_PORT} unavailable: {exc!r}"
        need(False, reason)


@pytest.fixture(scope="session")
def postgres_session_database(postgres_available: None) -> Iterator[str]:
    """The migrated PostgreSQL database shared by this test session; dropped afterwards."""
    name = create_postgres_database()
    try:
        run_in_fresh_loop(upgrade_url(postgres_url(name)))
        yield postgres_url(name)
    finally:
        drop_postgres_database(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on."""
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the current backend."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/zizany.db"
        await upgrade_url(url)
        return url
    url = str(request.getfixturevalue("postgres_session_database"))
    engine = create_engine(Settings(database_url=url, data_dir=tmp_path))
    try:
        async with engine.begin() as connection:
            names = ", ".join(table.name for table in metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
    return url


@pytest.fixture
def empty_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A database of the current backend that has never been migrated."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/empty.db"
        return
    request.getfixturevalue("postgres_available")
    name = create_postgres_database()
    try:
        yield postgres_url(name)
    finally:
        drop_postgres_database(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database, with cheap argon2 parameters."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-" + "x" * 32,
        argon2_time_cost=1,
        argon2_memory_cost=1024,
        strict_emits=True,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The service's engine for the test database."""
    engine = create_engine(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The service's session factory."""
    return session_factory(engine)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session for tests that need a single unit of work (they commit themselves)."""
    async with sessionmaker() as session:
        yield session
