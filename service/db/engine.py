"""The async engine, session factory and database health probe."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from service import metrics
from service.db import sqlite_inline, sqlite_reads, sqlite_writes
from service.db.sqlite_reads import SqliteReads
from service.settings import Settings

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = sqlite_inline.BUSY_TIMEOUT_MS


def create_engine(settings: Settings) -> AsyncEngine:
    """Build the async engine for the configured database (aiosqlite or asyncpg)."""
    engine = create_engine_for_url(settings.effective_database_url)
    if settings.metrics:
        _install_query_timing(engine)
        sqlite_reads.time_queries(engine)
        sqlite_writes.time_queries(engine)
    return engine


def create_engine_for_url(
    url: str | URL, *, foreign_keys: bool = True, transactional_ddl: bool = False
) -> AsyncEngine:
    """Build an async engine for a URL; SQLite connections get WAL, busy_timeout and FKs."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "sqlite":
        # Connections die with server restarts and failovers; a ping beats a failed request.
        return _create_async_engine(sa_url, pool_pre_ping=True)
    _ensure_sqlite_directory(sa_url)
    if sa_url.database and not sa_url.query:
        # Calls that cannot wait run on the loop's thread (service.db.sqlite_inline).
        creator = partial(
            sqlite_inline.connect, sa_url.database, busy_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
        )
        engine = _create_async_engine(sa_url, async_creator=creator)
        # Hot reads run on the loop's own connection to the file (service.db.sqlite_reads).
        sqlite_reads.enable(engine, sa_url.database)
        sqlite_writes.enable(engine, sa_url.database)
    else:
        engine = _create_async_engine(
            sa_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
    _install_sqlite_pragmas(engine, foreign_keys=foreign_keys)
    if transactional_ddl:
        _install_sqlite_begin(engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


# What a prebuilt Core read runs on: a session, a bare connection where no ORM is needed,
# or the direct reads of a SQLite file.
Reader = AsyncSession | AsyncConnection | SqliteReads


@asynccontextmanager
async def reading(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncConnection | SqliteReads]:
    """A connection for prebuilt Core statements, without an ORM session's bookkeeping.

    A session's transaction takes an identity-map snapshot (four weak dictionaries) and
    tears it down again: about a tenth of a connect's CPU in py-spy, for reads that load
    no ORM object. On a SQLite file the SELECTs skip SQLAlchemy's execution altogether
    (service.db.sqlite_reads). Uncommitted work is rolled back when the block ends.
    """
    engine = factory.kw["bind"]
    reads = sqlite_reads.reads_for(engine)
    if reads is not None:
        try:
            yield reads
        finally:
            taken = reads.release()
            if taken is not None:
                await _close(taken)
        return
    connection = await engine.connect()
    try:
        yield connection
    finally:
        await _close(connection)


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in a transaction: committed when the block ends normally,
    rolled back when it raises (`engine.begin()`, returned to the pool as `reading`)."""
    connection = await engine.connect()
    try:
        async with connection.begin():
            yield connection
    finally:
        await _close(connection)


async def _close(connection: AsyncConnection) -> None:
    """Return the connection to the pool now, not one loop turn later.

    SQLAlchemy's `async with` closes in a task of its own, so that a cancellation cannot
    abandon the close half-way. The connection then goes back to the pool a loop turn
    later, and a burst of connects or disconnects found the pool empty: it opened (and
    closed again) a SQLite connection and its thread for one socket in five.
    """
    if _closes_without_io(connection):
        # Nothing in it can suspend (service.db.sqlite_inline runs the rollback of a
        # connection outside a transaction inline), so nothing can cancel it half-way.
        await connection.close()
    else:
        # A statement runs (PostgreSQL's rollback, an open SQLite transaction): it
        # finishes even if this task is cancelled meanwhile.
        await asyncio.shield(asyncio.ensure_future(connection.close()))


def _closes_without_io(connection: AsyncConnection) -> bool:
    """True when closing the connection runs no statement: SQLite outside a transaction."""
    if connection.dialect.name != "sqlite" or connection.sync_connection is None:
        return False
    try:
        driver = connection.sync_connection.connection.driver_connection
    except Exception:  # invalidated or closed: let close() deal with it the careful way
        return False
    return isinstance(driver, sqlite_inline.InlineCalls) and not driver.in_transaction


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends normally, rolls back when it raises."""
    async with factory() as session, session.begin():
        yield session


async def check_database(engine: AsyncEngine, *, timeout_seconds: float = 2.0) -> bool:
    """Health probe: True when a `SELECT 1` answers within the timeout."""
    try:
        async with asyncio.timeout(timeout_seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        logger.warning("database health check failed", exc_info=True)
        return False
    return True


def _ensure_sqlite_directory(url: URL) -> None:
    """Create the directory of a SQLite database file (the embedded default's data_dir)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    """Set the per-connection SQLite pragmas every time the pool opens a connection."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in sqlite_inline.connection_pragmas(foreign_keys=foreign_keys):
                cursor.execute(f"PRAGMA {pragma}")
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)


def _install_query_timing(engine: AsyncEngine) -> None:
    """Time every statement into `zizany_db_query_seconds` (SQLAlchemy cursor events)."""

    def before(conn: Any, _cursor: Any, _statement: str, *_: Any) -> None:
        conn.info.setdefault("zizany_query_started", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        started = conn.info.get("zizany_query_started")
        if started:
            metrics.db_query(_operation_of(statement), time.perf_counter() - started.pop())

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)


_OPERATIONS = frozenset({"select", "insert", "update", "delete", "with", "pragma"})


def _operation_of(statement: str) -> str:
    """The statement's kind (its first keyword), one of a few, for a bounded label."""
    head = statement.lstrip()[:8].split(None, 1)
    word = head[0].lower() if head else ""
    return word if word in _OPERATIONS else "other"


def _install_sqlite_begin(engine: AsyncEngine) -> None:
    """Let SQLAlchemy emit BEGIN itself so DDL runs inside the transaction (migrations only)."""
    # The runtime engine keeps the driver's default, which begins a transaction at the
    # first write: reads never hold a snapshot that a later write would have to upgrade,
    # so concurrent writers wait on busy_timeout instead of failing with SQLITE_BUSY.
    # (The price: no SAVEPOINT at runtime; query functions use ON CONFLICT instead.)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
