"""SQLite connections whose reads run on the event loop's own thread.

aiosqlite runs every call of a connection (make a cursor, execute, fetch, close the
cursor, commit) in the connection's worker thread, and each call is a round trip between
threads: a queue put that wakes the worker, a GIL hand-over, and a `call_soon_threadsafe`
that wakes the loop again. A read through SQLAlchemy is four or five such hops; on the
connect path (the login lookup, the user's servers, the members of each) they were the
largest cost in the profile, larger than the queries themselves.

`InlineReads` keeps aiosqlite's thread for whatever may wait on a lock: writes, their
commits, PRAGMAs, closing. The calls that cannot wait run inline, as better-sqlite3 runs
every query in Node.js:

- a `SELECT` (in WAL mode a reader never waits for a writer; it reads the last commit or
  its own transaction's writes);
- making, reading and closing cursors (memory only);
- `commit` / `rollback` when no transaction is open (the driver's no-ops).

At most one call of a connection is under way at any time: the caller awaits each hop
before the next call, and the pool hands a connection to one session at a time. So the
sqlite3 connection, opened with `check_same_thread=False`, is never used by two threads
at once. A `SELECT` costs the loop what the query costs; the service's reads are indexed
lookups and pages of 50–100 rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

_CURSOR_CALLS = frozenset({"fetchone", "fetchmany", "fetchall", "close"})
_TRANSACTION_ENDS = frozenset({"commit", "rollback"})


def _runs_inline(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """Whether this driver call cannot wait on a lock (see the module's docstring)."""
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", "")
    if isinstance(owner, sqlite3.Cursor):
        if name == "execute":
            return bool(args) and isinstance(args[0], str) and _is_select(args[0])
        return name in _CURSOR_CALLS
    if isinstance(owner, sqlite3.Connection):
        if name == "cursor":
            return True
        return name in _TRANSACTION_ENDS and not owner.in_transaction
    return False


def _is_select(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


class InlineReads(aiosqlite.Connection):
    """An aiosqlite connection that runs reads inline and everything else in its thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if _runs_inline(fn, args):
            if not self._running or not self._connection:
                raise ValueError("Connection closed")
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]


async def connect(database: str, *, busy_timeout: float) -> aiosqlite.Connection:
    """Open an `InlineReads` connection (the engine's `async_creator`)."""
    # uri=True lets "file:…?mode=memory&cache=shared" names through, as SQLAlchemy does.
    connector = partial(
        sqlite3.connect,
        database,
        timeout=busy_timeout,
        check_same_thread=False,
        uri=database.startswith("file:"),
    )
    connection = InlineReads(connector, iter_chunk_size=64)
    # A daemon thread, as SQLAlchemy makes aiosqlite's: an unclosed connection must not
    # keep the process alive.
    connection._thread.daemon = True
    return await connection
