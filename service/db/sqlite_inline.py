"""SQLite connections whose calls run on the event loop's thread when they cannot wait.

aiosqlite runs every call of a connection (make a cursor, execute, fetch, close the
cursor, commit) in the connection's worker thread, and each call is a round trip between
threads: a queue put that wakes the worker, a GIL hand-over, and a `call_soon_threadsafe`
that wakes the loop again. A read through SQLAlchemy is four or five such hops; on the
connect path (the login lookup, the user's servers, the members of each) they were the
largest cost in the profile, larger than the queries themselves, and a stored message
paid two more (its INSERT and its COMMIT).

`InlineCalls` runs a call inline, as better-sqlite3 runs every query in Node.js, when it
cannot wait on another connection of this process:

- a `SELECT` (in WAL mode a reader never waits for a writer); making, reading and closing
  cursors; `commit` / `rollback` with no transaction open (the driver's no-ops);
- a write (any other statement) and its commit, when no other connection of this process
  holds the database's write lock or may be taking it. A write that would have to wait
  for another connection of this loop must not block the loop: that connection could
  then never finish its transaction (a deadlock until `busy_timeout`). Such writes, and
  every write while another one is under way, keep aiosqlite's thread.

`_Writers` is that bookkeeping, per database file: the connections in a write
transaction, and those with a write in flight in their thread. At most one call of a
connection is under way at any time (the caller awaits each call before the next, and
the pool hands a connection to one session at a time), so the sqlite3 connection, opened
with `check_same_thread=False`, is never used by two threads at once. An inline call
costs the loop what the statement costs: indexed lookups, pages of 50–100 rows, and the
group commit's multi-row INSERT (service.db.message_writer). Another *process* writing
the same file (a migration, say) can still make an inline write wait, for as long as
that process holds its write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

_CURSOR_CALLS = frozenset({"fetchone", "fetchmany", "fetchall", "close"})
_TRANSACTION_ENDS = frozenset({"commit", "rollback"})


INLINE, WRITE, OTHER = "inline", "write", "other"


def _kind(fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """`INLINE` (cannot wait), `WRITE` (may wait on the write lock) or `OTHER` (thread)."""
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", "")
    if isinstance(owner, sqlite3.Cursor):
        if name == "execute":
            select = bool(args) and isinstance(args[0], str) and _is_select(args[0])
            return INLINE if select else WRITE
        if name in ("executemany", "executescript"):
            return WRITE
        return INLINE if name in _CURSOR_CALLS else OTHER
    if isinstance(owner, sqlite3.Connection):
        if name == "cursor":
            return INLINE
        if name in _TRANSACTION_ENDS:
            try:
                return WRITE if owner.in_transaction else INLINE
            except sqlite3.ProgrammingError:  # closed: the driver's own call says so
                return OTHER
    return OTHER


def _is_select(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


class _Writers:
    """The connections of this process that hold, or may be taking, one file's write lock."""

    def __init__(self) -> None:
        self.connections: set[int] = set()


_WRITERS: dict[str, _Writers] = {}

BUSY_TIMEOUT_MS = 5000


def connection_pragmas(*, foreign_keys: bool = True) -> tuple[str, ...]:
    """The pragmas of every read-write connection to the file: the pool's
    (service.db.engine) and the message writer's own (service.db.sqlite_writes)."""
    return (
        # SQLite ignores FOREIGN KEY clauses (and so ON DELETE CASCADE) unless asked.
        f"foreign_keys={'ON' if foreign_keys else 'OFF'}",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
        # WAL lets readers proceed while one writer commits; NORMAL sync is safe with WAL.
        "journal_mode=WAL",
        "synchronous=NORMAL",
    )


def writing_elsewhere(database: str) -> bool:
    """Whether a connection of this process holds, or may be taking, the file's write lock."""
    writers = _WRITERS.get(database)
    return writers is not None and bool(writers.connections)


class InlineCalls(aiosqlite.Connection):
    """An aiosqlite connection that runs the calls that cannot wait inline (module doc)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], database: str) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._writers = _WRITERS.setdefault(database, _Writers())

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        kind = _kind(fn, args)
        writers = self._writers.connections
        me = id(self)
        if kind == INLINE or (kind == WRITE and (not writers or writers == {me})):
            if not self._running or not self._connection:
                raise ValueError("Connection closed")
            try:
                return fn(*args, **kwargs)
            finally:
                self._track()
        if kind == WRITE:
            writers.add(me)  # in flight: it may be taking the lock right now
        try:
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            self._track()

    def _track(self) -> None:
        """Count this connection as a writer exactly while its transaction is open."""
        connection = self._connection
        try:
            writing = connection is not None and connection.in_transaction
        except sqlite3.ProgrammingError:  # closed
            writing = False
        if writing:
            self._writers.connections.add(id(self))
        else:
            self._writers.connections.discard(id(self))


class LoopConnection:
    """A plain `sqlite3` connection of the event loop's own (service.db.sqlite_reads and
    sqlite_writes), opened on first use with `pragmas`, in autocommit (no transaction, and
    so no snapshot, is kept between statements unless one is begun explicitly)."""

    def __init__(self, database: str, pragmas: tuple[str, ...]) -> None:
        self.database = database
        self.pragmas = pragmas
        self._connection: sqlite3.Connection | None = None

    @property
    def is_open(self) -> bool:
        return self._connection is not None

    def get(self) -> sqlite3.Connection:
        connection = self._connection
        if connection is None:
            # Used by one loop at a time, not necessarily on the thread that opened it
            # (tests run several loops), hence check_same_thread=False.
            connection = sqlite3.connect(
                self.database, isolation_level=None, check_same_thread=False
            )
            for pragma in self.pragmas:
                connection.execute(f"PRAGMA {pragma}")
            self._connection = connection
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


async def connect(database: str, *, busy_timeout: float) -> aiosqlite.Connection:
    """Open an `InlineCalls` connection (the engine's `async_creator`)."""
    # uri=True lets "file:…?mode=memory&cache=shared" names through, as SQLAlchemy does.
    connector = partial(
        sqlite3.connect,
        database,
        timeout=busy_timeout,
        check_same_thread=False,
        uri=database.startswith("file:"),
    )
    connection = InlineCalls(connector, database)
    # A daemon thread, as SQLAlchemy makes aiosqlite's: an unclosed connection must not
    # keep the process alive.
    connection._thread.daemon = True
    return await connection
