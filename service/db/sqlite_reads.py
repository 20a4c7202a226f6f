"""Reads of a SQLite file on the event loop's own connection, without SQLAlchemy's execution.

A prebuilt Core SELECT through SQLAlchemy's asyncio layer on an inline SQLite connection
(service.db.sqlite_inline) costs about 180 CPU-µs, of which the query is 25: the pool's
checkout and reset, the greenlet hop, the execution context, the cursor wrappers and the
result object are the rest. A connect runs five such reads (the login, the user's
servers, the role, the server's members, the channel's access) and they were a third of
its CPU in py-spy (bench/README.md).

`reading()` (service.db.engine) yields a `SqliteReads` on a SQLite file database: each
statement is compiled once for the engine's dialect and run with `sqlite3` on one
connection per engine, opened read-only (`PRAGMA query_only`) and in autocommit, so every
SELECT reads the latest committed state (WAL: a reader never waits for a writer) and holds
no snapshot once its rows are fetched (all of them, always). Parameters and columns go
through the same bind and result processors SQLAlchemy would apply (timestamps, booleans).

What it does not run itself — a write (the login's rolling expiry), an expanding `IN`, a
statement that is not a SELECT — goes to a pooled SQLAlchemy connection opened for the
rest of the block, exactly as `reading()` does elsewhere; `commit()` commits that one.
"""

from __future__ import annotations

import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler

from service import metrics
from service.db import sqlite_inline

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One SELECT for `sqlite3`: its SQL, its parameters in order, its column processors."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    binds: tuple[Any, ...]  # a processor or None, per parameter
    columns: tuple[Processor | None, ...] | None  # None: no column needs processing


class Rows:
    """The rows of a read, as tuples (the part of SQLAlchemy's `Result` the readers use)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def all(self) -> list[tuple[Any, ...]]:
        return self._rows

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> tuple[Any, ...] | None:
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self) -> tuple[Any, ...]:
        row = self.one_or_none()
        if row is None:
            raise NoResultFound("No row was found when one was required")
        return row

    def scalars(self) -> Scalars:
        return Scalars([row[0] for row in self._rows])

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]


class Scalars:
    """The first column of each row (SQLAlchemy's `ScalarResult`, as far as readers use it)."""

    __slots__ = ("_values",)

    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def all(self) -> list[Any]:
        return self._values

    def first(self) -> Any:
        return self._values[0] if self._values else None

    def one_or_none(self) -> Any:
        if len(self._values) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self) -> Any:
        if not self._values:
            raise NoResultFound("No row was found when one was required")
        return self.one_or_none()


class _Source:
    """One engine's read connection and compiled statements."""

    def __init__(self, dialect: Dialect, database: str, timed: bool) -> None:
        # No reference to the engine: this is the value of a weak mapping keyed by it.
        self.database = database
        self.timed = timed
        self.dialect = dialect
        self._connection = sqlite_inline.LoopConnection(
            database, ("query_only=ON", f"busy_timeout={sqlite_inline.BUSY_TIMEOUT_MS}")
        )
        # Keyed by the statement object: the readers run module-level prebuilt statements.
        self._compiled: weakref.WeakKeyDictionary[Select[Any], _Compiled | None] = (
            weakref.WeakKeyDictionary()
        )

    def connection(self) -> sqlite3.Connection:
        return self._connection.get()

    def close(self) -> None:
        self._connection.close()

    def compiled(self, statement: Any) -> _Compiled | None:
        """The statement compiled for `sqlite3`, or None when it must take SQLAlchemy's path."""
        if not isinstance(statement, Select):
            return None
        try:
            return self._compiled[statement]
        except KeyError:
            pass
        compiled = _compile(statement, self.dialect)
        self._compiled[statement] = compiled
        return compiled


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled | None:
    compiled = statement.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler) or not compiled.positional:
        return None
    if compiled.literal_execute_params or compiled.post_compile_params:
        return None  # an expanding IN, rendered per execution
    names = tuple(compiled.positiontup or ())
    processors = compiled._bind_processors
    columns = tuple(
        entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns
    )
    return _Compiled(
        sql=compiled.string,
        names=names,
        defaults={
            name: bind.value
            for name, bind in compiled.binds.items()
            if not bind.required and bind.callable is None
        },
        binds=tuple(processors.get(name) for name in names),
        columns=columns if any(columns) else None,
    )


_SOURCES: weakref.WeakKeyDictionary[AsyncEngine, _Source] = weakref.WeakKeyDictionary()


def enable(engine: AsyncEngine, database: str) -> None:
    """Let `reading()` read this engine's SQLite file directly; closed with the engine."""
    source = _Source(engine.dialect, database, timed=False)
    _SOURCES[engine] = source
    event.listen(engine.sync_engine, "engine_disposed", lambda _engine: source.close())


def time_queries(engine: AsyncEngine) -> None:
    """Count direct reads in `zizany_db_query_seconds`, as the engine's cursor events do."""
    source = _SOURCES.get(engine)
    if source is not None:
        source.timed = True


def reads_for(engine: AsyncEngine) -> SqliteReads | None:
    """A `SqliteReads` for this engine, or None when it reads through SQLAlchemy."""
    source = _SOURCES.get(engine)
    return SqliteReads(source, engine) if source is not None else None


class SqliteReads:
    """What `reading()` yields on a SQLite file: `execute`/`scalars` of Core statements."""

    __slots__ = ("_engine", "_fallback", "_source")

    def __init__(self, source: _Source, engine: AsyncEngine) -> None:
        self._source = source
        self._engine = engine
        self._fallback: AsyncConnection | None = None

    async def execute(self, statement: Any, params: Mapping[str, Any] | None = None) -> Rows:
        """The rows of a SELECT (`Rows`); anything else on a pooled connection."""
        compiled = self._source.compiled(statement)
        if compiled is None or self._fallback is not None:
            result = await (await self._pooled()).execute(statement, params)
            return Rows([tuple(row) for row in result.all()] if result.returns_rows else [])
        return Rows(self._run(compiled, params or {}))

    async def scalars(self, statement: Any, params: Mapping[str, Any] | None = None) -> Scalars:
        """The first column of a SELECT's rows (`Scalars`); anything else as `execute`."""
        compiled = self._source.compiled(statement)
        if compiled is None or self._fallback is not None:
            return Scalars(list((await (await self._pooled()).scalars(statement, params)).all()))
        return Scalars([row[0] for row in self._run(compiled, params or {})])

    async def commit(self) -> None:
        """Commit what went to the pooled connection (the reads need no commit)."""
        if self._fallback is not None:
            await self._fallback.commit()

    def release(self) -> AsyncConnection | None:
        """The pooled connection the block took, if any, for the caller to close."""
        fallback, self._fallback = self._fallback, None
        return fallback

    async def _pooled(self) -> AsyncConnection:
        # Once a block has written, it reads on that connection too: it sees its own writes.
        if self._fallback is None:
            self._fallback = await self._engine.connect()
        return self._fallback

    def _run(self, compiled: _Compiled, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        values = _parameters(compiled, params)
        started = time.perf_counter() if self._source.timed else 0.0
        rows = self._source.connection().execute(compiled.sql, values).fetchall()
        if started:
            metrics.db_query("select", time.perf_counter() - started)
        columns = compiled.columns
        if columns is None:
            return rows
        return [
            tuple(value if f is None else f(value) for f, value in zip(columns, row, strict=True))
            for row in rows
        ]


def _parameters(compiled: _Compiled, params: Mapping[str, Any]) -> Sequence[Any]:
    values = []
    for name, process in zip(compiled.names, compiled.binds, strict=True):
        if name in params:
            value = params[name]
        elif name in compiled.defaults:
            value = compiled.defaults[name]
        else:
            raise KeyError(f"a value is required for bind parameter {name!r}")
        values.append(value if process is None else process(value))
    return values
