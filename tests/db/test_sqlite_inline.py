"""SQLite calls on the loop's thread: only those that cannot wait on this process's locks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text

from service.db import sqlite_inline
from service.db.engine import create_engine_for_url

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_write_waiting_for_another_connection_of_the_loop_does_not_block_it(
    tmp_path: Path,
) -> None:
    # Connection A holds the write lock across an await; B writes meanwhile. Were B's
    # write run inline, it would wait for the lock on the loop's thread, A could never
    # commit, and B would fail with "database is locked" after the busy timeout (5 s).
    engine = create_engine_for_url(f"sqlite+aiosqlite:///{tmp_path}/locks.db")
    try:
        async with engine.begin() as setup:
            await setup.execute(text("CREATE TABLE t (x INTEGER)"))
        started = time.monotonic()
        holding = asyncio.Event()

        async def a() -> None:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                holding.set()
                await asyncio.sleep(0.2)  # the loop runs B meanwhile

        async def b() -> None:
            await holding.wait()
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (2)"))

        await asyncio.wait_for(asyncio.gather(a(), b()), 4)
        assert time.monotonic() - started < 2
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all()
        assert rows == [1, 2]
    finally:
        await engine.dispose()


async def test_uncontended_reads_and_writes_run_inline_and_contended_ones_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threaded: list[str] = []
    original = aiosqlite.Connection._execute

    async def spy(
        self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object
    ) -> object:
        threaded.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", spy)
    engine = create_engine_for_url(f"sqlite+aiosqlite:///{tmp_path}/inline.db")
    try:
        async with engine.begin() as conn, engine.connect() as other:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await other.execute(text("SELECT 1"))  # two pooled connections, set up
        threaded.clear()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
        assert threaded == []  # nothing contended: no hop to aiosqlite's thread

        async with engine.begin() as holder:
            await holder.execute(text("INSERT INTO t VALUES (2)"))
            async with engine.connect() as reader:  # a read never waits
                assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar() == 1
            assert threaded == []
        assert sqlite_inline._WRITERS[f"{tmp_path}/inline.db"].connections == set()
    finally:
        await engine.dispose()
