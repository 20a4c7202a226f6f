"""Message batches inserted on the loop's own SQLite connection, without SQLAlchemy's execution.

The group commit (service.db.message_writer) stores what waits in one multi-row INSERT and
one COMMIT. Through SQLAlchemy that batch paid a pool checkout and reset, the greenlet
hop, insertmanyvalues' bookkeeping and the result object on top of the statement itself:
a few hundred CPU-µs per batch, most of the message path's database cost on SQLite.

`SqliteInserts` runs the same INSERT … RETURNING with `sqlite3` on one connection per
engine (the pragmas of the pool's connections: foreign keys, busy timeout, WAL with
synchronous NORMAL), inside `BEGIN IMMEDIATE … COMMIT`, synchronously: nothing else of
this loop runs between the check and the commit. It only does so when no other
connection of this process holds the file's write lock or may be taking it
(service.db.sqlite_inline's bookkeeping): a write that would wait for one of them must
not block the loop they run on. Then `insert` answers None and the caller takes the
pooled path. Values go through the column types' bind processors, so the rows are
byte for byte what SQLAlchemy would have written; errors come back as SQLAlchemy's
(`IntegrityError` for a channel deleted meanwhile).
"""

from __future__ import annotations

import sqlite3
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from service import metrics
from service.db import sqlite_inline


class SqliteInserts:
    """Multi-row INSERT … RETURNING id into one table, on the engine's own connection."""

    def __init__(self, database: str, table: Table, columns: Sequence[str], dialect: Any) -> None:
        self.database = database
        self.columns = tuple(columns)
        self.timed = False
        self._table = table.name
        self._processors = tuple(
            table.c[name].type._cached_bind_processor(dialect) for name in self.columns
        )
        self._statements: dict[int, str] = {}
        # The pragmas the engine gives the pool's connections (service.db.engine).
        self._connection = sqlite_inline.LoopConnection(
            database, sqlite_inline.connection_pragmas()
        )

    def insert(self, rows: Sequence[Mapping[str, Any]]) -> list[int] | None:
        """The new ids in the rows' order, committed; None when the pooled path must do it."""
        if not rows or sqlite_inline.writing_elsewhere(self.database):
            return None
        sql = self._statement(len(rows))
        values = [
            value if process is None else process(value)
            for row in rows
            for process, value in zip(
                self._processors, (row[name] for name in self.columns), strict=True
            )
        ]
        connection = self.connection()
        started = time.perf_counter() if self.timed else 0.0
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                ids = [row[0] for row in connection.execute(sql, values).fetchall()]
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc
        if started:
            metrics.db_query("insert", time.perf_counter() - started)
        # One statement numbers its rows in order (AUTOINCREMENT): ascending ids are the
        # rows' order whatever order RETURNING lists them in.
        ids.sort()
        return ids

    def connection(self) -> sqlite3.Connection:
        return self._connection.get()

    def close(self) -> None:
        self._connection.close()

    def _statement(self, n: int) -> str:
        sql = self._statements.get(n)
        if sql is None:
            row = "(" + ", ".join("?" * len(self.columns)) + ")"
            sql = (
                f"INSERT INTO {self._table} ({', '.join(self.columns)}) "
                f"VALUES {', '.join([row] * n)} RETURNING id"
            )
            if len(self._statements) < 512:  # one per batch size; MAX_BATCH bounds them
                self._statements[n] = sql
        return sql


_INSERTS: weakref.WeakKeyDictionary[AsyncEngine, dict[str, SqliteInserts]] = (
    weakref.WeakKeyDictionary()
)
_TIMED: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()


def enable(engine: AsyncEngine, database: str) -> None:
    """Let `inserts_for` insert into this engine's SQLite file directly."""
    made: dict[str, SqliteInserts] = {}
    _INSERTS[engine] = made

    def close_all(_engine: Any) -> None:
        for inserts in made.values():
            inserts.close()

    event.listen(engine.sync_engine, "engine_disposed", close_all)


def time_queries(engine: AsyncEngine) -> None:
    """Count direct inserts in `zizany_db_query_seconds`, as the engine's cursor events do."""
    _TIMED.add(engine)


def inserts_for(engine: AsyncEngine, table: Table, columns: Sequence[str]) -> SqliteInserts | None:
    """Direct inserts into `table` for this engine, or None when it writes via SQLAlchemy."""
    made = _INSERTS.get(engine)
    if made is None:
        return None
    inserts = made.get(table.name)
    if inserts is None:
        database = engine.url.database
        assert database is not None
        inserts = made[table.name] = SqliteInserts(database, table, columns, engine.dialect)
    inserts.timed = engine in _TIMED
    return inserts
