"""Queries on messages; history is paged by id cursor on the (channel_id, id) index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.db._inserts import inserted
from service.db.tables import MessageRow, UserRow
from service.db.timestamps import utcnow
from service.errors import MessageNotFound


@dataclass(frozen=True, slots=True)
class AuthoredMessage:
    """A message with its author's username (the wire `user` is `{id: user_id, username}`)."""

    message: MessageRow
    username: str


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of history, oldest first; `next_cursor` is None when nothing lies beyond."""

    messages: list[AuthoredMessage]
    next_cursor: int | None


async def create_message(
    *,
    session: AsyncSession,
    channel_id: int,
    user_id: int,
    content: str,
    now: datetime | None = None,
) -> MessageRow:
    """Store a message; `created_at` equals `updated_at` until it is edited."""
    created_at = now or utcnow()
    return await inserted(
        session,
        MessageRow(
            channel_id=channel_id,
            user_id=user_id,
            content=content,
            created_at=created_at,
            updated_at=created_at,
        ),
    )


async def get_message(*, session: AsyncSession, message_id: int) -> MessageRow | None:
    """The message with this id, or None."""
    return await session.get(MessageRow, message_id)


def _authored() -> Select[MessageRow, str]:
    """Messages joined with their author's username."""
    return select(MessageRow, col(UserRow.username)).join(
        UserRow, col(UserRow.id) == col(MessageRow.user_id)
    )


async def get_authored_message(*, session: AsyncSession, message_id: int) -> AuthoredMessage | None:
    """The message with its author's username, or None."""
    result = await session.execute(_authored().where(col(MessageRow.id) == message_id))
    row = result.one_or_none()
    return AuthoredMessage(message=row[0], username=row[1]) if row is not None else None


async def update_message(
    *, session: AsyncSession, message_id: int, content: str, now: datetime | None = None
) -> MessageRow:
    """Replace a message's content and bump `updated_at`; raises MessageNotFound."""
    message = await session.get(MessageRow, message_id)
    if message is None:
        raise MessageNotFound(message_id)
    message.content = content
    message.updated_at = now or utcnow()
    await session.flush()
    return message


async def delete_message(*, session: AsyncSession, message_id: int) -> MessageRow:
    """Delete a message; returns the deleted row; raises MessageNotFound."""
    message = await session.get(MessageRow, message_id)
    if message is None:
        raise MessageNotFound(message_id)
    # A row count, not session.delete: of two concurrent deletes only one may succeed
    # (and broadcast message:deleted); the other finds nothing to delete.
    result = await session.execute(
        delete(MessageRow).where(col(MessageRow.id) == message_id).returning(col(MessageRow.id))
    )
    if result.first() is None:
        raise MessageNotFound(message_id)
    session.expunge(message)
    return message


async def list_messages_before(
    *, session: AsyncSession, channel_id: int, before: int | None, limit: int
) -> MessagePage:
    """The newest `limit` messages older than `before` (None: newest overall), oldest first."""
    # next_cursor is the `before` of the previous page: the oldest id returned, or None
    # when this page reaches the channel's first message.
    _check_limit(limit)
    stmt = _authored().where(col(MessageRow.channel_id) == channel_id)
    if before is not None:
        stmt = stmt.where(col(MessageRow.id) < before)
    # One extra row says whether an older page exists without a second query.
    result = await session.execute(stmt.order_by(col(MessageRow.id).desc()).limit(limit + 1))
    rows = [AuthoredMessage(message=m, username=u) for m, u in result]
    has_more = len(rows) > limit
    page = rows[:limit]
    page.reverse()
    return MessagePage(messages=page, next_cursor=page[0].message.id if has_more else None)


async def list_messages_after(
    *, session: AsyncSession, channel_id: int, after: int, limit: int
) -> MessagePage:
    """The oldest `limit` messages newer than `after`, oldest first."""
    # next_cursor is the `after` of the next page: the newest id returned, or None when
    # this page reaches the channel's newest message.
    _check_limit(limit)
    result = await session.execute(
        _authored()
        .where(col(MessageRow.channel_id) == channel_id, col(MessageRow.id) > after)
        .order_by(col(MessageRow.id))
        .limit(limit + 1)
    )
    rows = [AuthoredMessage(message=m, username=u) for m, u in result]
    has_more = len(rows) > limit
    page = rows[:limit]
    return MessagePage(messages=page, next_cursor=page[-1].message.id if has_more else None)


def _check_limit(limit: int) -> None:
    """Reject page sizes below one (the API layer enforces its own maximum)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")
