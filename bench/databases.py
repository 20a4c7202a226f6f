"""The bench's databases: a seeded template per backend, a fresh copy per server instance,
and the stored-once check (`stored`)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from bench.params import Params
from bench.world import World, seed

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class Databases:
    """A seeded template per backend; every server instance gets its own copy."""

    def __init__(self, workdir: Path, params: Params) -> None:
        self.workdir = workdir
        self.params = params
        self.tag = f"zb{os.getpid()}"
        self.sqlite_template = workdir / "template.db"
        self.pg_dbs: list[str] = []
        self.world: World | None = None
        self.pg_world: World | None = None

    async def prepare(self) -> World:
        self.world = await seed(f"sqlite+aiosqlite:///{self.sqlite_template}", self.params)
        con = sqlite3.connect(self.sqlite_template)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        if self.params.postgres:
            tpl = f"{self.tag}_tpl"
            await self._pg_admin(f'DROP DATABASE IF EXISTS "{tpl}"', f'CREATE DATABASE "{tpl}"')
            self.pg_dbs.append(tpl)
            self.pg_world = await seed(
                f"postgresql+asyncpg://postgres@127.0.0.1:5432/{tpl}", self.params
            )
        return self.world

    async def _pg_admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def copy(self, backend: str, name: str) -> tuple[str, World]:
        """A fresh database: (location, world). SQLite: a file path; PostgreSQL: a URL."""
        if backend == "sqlite":
            path = self.workdir / f"{name}.db"
            shutil.copyfile(self.sqlite_template, path)
            assert self.world is not None
            return str(path), self.world
        db = f"{self.tag}_{name}"
        await self._pg_admin(
            f'DROP DATABASE IF EXISTS "{db}"', f'CREATE DATABASE "{db}" TEMPLATE "{self.tag}_tpl"'
        )
        self.pg_dbs.append(db)
        assert self.pg_world is not None
        return f"postgresql://postgres@127.0.0.1:5432/{db}", self.pg_world

    async def cleanup(self) -> None:
        if self.pg_dbs:
            await self._pg_admin(*(f'DROP DATABASE IF EXISTS "{db}"' for db in self.pg_dbs))


async def stored(location: str, channel_ids: Sequence[int]) -> tuple[int, int]:
    """(rows, distinct contents) of bench messages in these channels."""
    ids = ",".join(str(int(c)) for c in channel_ids)
    sql = (
        "SELECT count(*), count(DISTINCT content) FROM messages "
        f"WHERE channel_id IN ({ids}) AND content LIKE 'bench|%'"
    )
    if location.startswith("postgresql://"):
        conn = await asyncpg.connect(location)
        try:
            row = await conn.fetchrow(sql)
        finally:
            await conn.close()
        assert row is not None
        return int(row[0]), int(row[1])
    con = sqlite3.connect(location, timeout=30)
    try:
        total, distinct = con.execute(sql).fetchone()
    finally:
        con.close()
    return int(total), int(distinct)
