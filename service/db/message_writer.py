"""Group commit for new messages: concurrent inserts share one statement and one commit.

Storing a message one at a time costs a connection checkout, an INSERT, a COMMIT and a
reset on return, each a round trip (a thread hop on aiosqlite): most of the 2,875 CPU-µs
per `message:create` of bench/README.md, against Node's 362. `MessageWriter` queues the
messages that arrive while a write is under way and stores them together, in arrival
order, with one multi-row `INSERT … RETURNING` in one transaction. Ids follow arrival
order (one batch at a time, rows in order), so a channel's messages are numbered in the
order they were accepted, and every caller hears back only after the commit: an
acknowledged message is durable.

A batch that fails (a channel deleted a moment ago: a foreign-key error) is retried row
by row, so only the messages that cannot be stored fail.

Bounded: `admit` (service.chat.saturation) is asked before a message joins the queue and
raises to refuse it, e.g. while `pending` is over its bound, so the queue cannot grow
without end when the database falls behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import sqlite_writes
from service.db.engine import writing
from service.db.tables import MessageRow, core_table
from service.db.timestamps import utcnow

log = logging.getLogger(__name__)

# At most this many rows per statement: stays far below SQLite's 32,766 bound parameters
# (5 a row) and keeps one slow batch from holding many callers.
MAX_BATCH = 256

_messages = core_table(MessageRow)
# Built once (a Core insert: no ORM statement and cache key to build per batch); the ids
# come back in the order of the rows, as the batch's futures expect.
_INSERT = insert(_messages).returning(_messages.c.id, sort_by_parameter_order=True)
_COLUMNS = ("channel_id", "user_id", "content", "created_at", "updated_at")


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store."""

    channel_id: int
    user_id: int
    content: str


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A stored message's row."""

    id: int
    channel_id: int
    user_id: int
    content: str
    created_at: datetime


class MessageWriter:
    """Stores messages in batches: one statement and one commit for all that are waiting."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = MAX_BATCH,
        admit: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        # On a SQLite file, batches are inserted on the loop's own connection when they can
        # be (service.db.sqlite_writes); otherwise, and on PostgreSQL, through the pool.
        self._direct = sqlite_writes.inserts_for(engine, _messages, _COLUMNS)
        self.max_batch = max_batch
        # Raises to refuse a new message (before it is queued); None admits everything.
        self.admit = admit
        self._waiting: list[tuple[NewMessage, asyncio.Future[StoredMessage]]] = []
        self._writing = 0
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0
        self.rows = 0

    @property
    def pending(self) -> int:
        """Messages not yet answered: queued, and in the batch being written."""
        return len(self._waiting) + self._writing

    async def store(self, message: NewMessage) -> StoredMessage:
        """Store one message (with whatever else is waiting); returns once committed.

        `admit`'s refusal propagates before anything is queued.
        """
        if self.admit is not None:
            self.admit()
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_all(), name="message-writer")
        return await future

    async def _flush_all(self) -> None:
        # One batch at a time: what arrives during a write waits for the next one, so ids
        # ascend in arrival order across batches too.
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                self._writing = len(batch)
                await self._write(batch)
        finally:
            self._writing = 0
            self._flusher = None

    async def _write(self, batch: list[tuple[NewMessage, asyncio.Future[StoredMessage]]]) -> None:
        now = utcnow()
        try:
            stored = await self._insert([m for m, _ in batch], now)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except (IntegrityError, DBAPIError) as exc:
            if len(batch) == 1:
                _fail(batch[0][1], exc)
                return
            log.info("a batch of %d messages failed (%s); storing them one by one", len(batch), exc)
            for item in batch:
                await self._write([item])
            return
        except Exception as exc:  # the callers get it; the writer goes on
            for _, future in batch:
                _fail(future, exc)
            return
        self.batches += 1
        self.rows += len(stored)
        for (_, future), row in zip(batch, stored, strict=True):
            if not future.done():
                future.set_result(row)

    async def _insert(self, messages: list[NewMessage], now: datetime) -> list[StoredMessage]:
        rows = [
            {
                "channel_id": m.channel_id,
                "user_id": m.user_id,
                "content": m.content,
                "created_at": now,
                "updated_at": now,
            }
            for m in messages
        ]
        ids = self._direct.insert(rows) if self._direct is not None else None
        if ids is None:
            async with writing(self.engine) as connection:
                result = await connection.execute(_INSERT, rows)
                ids = [row[0] for row in result.all()]
        return [
            StoredMessage(
                id=message_id,
                channel_id=m.channel_id,
                user_id=m.user_id,
                content=m.content,
                created_at=now,
            )
            for message_id, m in zip(ids, messages, strict=True)
        ]


def _fail(future: asyncio.Future[StoredMessage], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
