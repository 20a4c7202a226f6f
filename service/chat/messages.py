"""Posting, editing and deleting messages, and reading history: one rule for REST and sockets.

Each operation checks in the contract's order (request shape, visibility, permission,
then its own rules), stores, commits, then tells the notifier.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from generated.realtime.models import Message
from service import metrics
from service.chat.access import MODERATORS, channel_for, message_for
from service.chat.parts import ChatParts
from service.chat.text import trimmed
from service.db import channels as channels_db
from service.db import messages as messages_db
from service.db.engine import reading
from service.db.message_writer import NewMessage
from service.db.messages import AuthoredMessage, MessagePage
from service.errors import ChannelNotFound, Forbidden, RateLimited
from service.wire import message_out, stored_message_out


@dataclass(frozen=True, slots=True)
class Deleted:
    """What a deletion removed: the message id and its channel."""

    message_id: int
    channel_id: int


class Messages:
    """The message operations."""

    def __init__(self, parts: ChatParts) -> None:
        self.parts = parts

    async def post(
        self,
        *,
        user_id: int,
        username: str,
        channel_id: int,
        content: str,
        member: bool = False,
    ) -> Message:
        """Store a message (trimmed) from a member and broadcast it as `message:new`.

        The per-user rate limit counts the messages a member may post, so it comes after
        the access check. `member` says the caller already knows the user is a member of
        the channel's server (a socket in the channel's room: only members enter it, and
        revocation takes sockets out at once), which spares the query. The message is
        stored by the batching writer and acknowledged only once committed; its wire form
        is built from the inserted row and the author's name (no read-back).
        """
        text = trimmed(content, "content")
        if not member:
            async with reading(self.parts.sessionmaker) as session:
                await channel_for(session=session, channel_id=channel_id, user_id=user_id)
        wait = await self.parts.message_rate.acquire(f"messages:{user_id}")
        if wait is not None:
            raise RateLimited(wait, f"too many messages, retry in {wait:.1f} s")
        try:
            row = await self.parts.message_writer.store(NewMessage(channel_id, user_id, text))
        except IntegrityError as exc:
            # The channel may have gone after the check (its deletion cascades): then it is
            # missing. Any other refusal of the insert is a storage failure (E_INTERNAL).
            async with self.parts.sessionmaker() as session:
                gone = await channels_db.get_channel(session=session, channel_id=channel_id) is None
            if gone:
                raise ChannelNotFound(channel_id) from exc
            raise
        stored = time.perf_counter()
        message = stored_message_out(row, username)
        await self.parts.notifier.message_created(message)
        metrics.message_broadcast(time.perf_counter() - stored)
        return message

    async def edit(
        self, *, user_id: int, message_id: int, content: str, channel_id: int | None = None
    ) -> Message:
        """Change a message's content (its author only) and broadcast `message:updated`."""
        text = trimmed(content, "content")
        async with self.parts.sessionmaker() as session:
            item, _ = await message_for(
                session=session, message_id=message_id, user_id=user_id, channel_id=channel_id
            )
            if item.message.user_id != user_id:
                raise Forbidden(f"only its author may edit message {message_id!r}")
            row = await messages_db.update_message(
                session=session, message_id=message_id, content=text
            )
            await session.commit()
        message = message_out(AuthoredMessage(message=row, username=item.username))
        await self.parts.notifier.message_updated(message)
        return message

    async def delete(
        self, *, user_id: int, message_id: int, channel_id: int | None = None
    ) -> Deleted:
        """Delete a message (its author, an admin or the owner); broadcast `message:deleted`."""
        async with self.parts.sessionmaker() as session:
            item, access = await message_for(
                session=session, message_id=message_id, user_id=user_id, channel_id=channel_id
            )
            if item.message.user_id != user_id and access.role not in MODERATORS:
                raise Forbidden(
                    f"only its author, an admin or the owner may delete message {message_id!r}"
                )
            await messages_db.delete_message(session=session, message_id=message_id)
            await session.commit()
        deleted = Deleted(message_id=message_id, channel_id=item.message.channel_id)
        await self.parts.notifier.message_deleted(
            message_id=deleted.message_id, channel_id=deleted.channel_id
        )
        return deleted

    async def page(
        self,
        *,
        user_id: int,
        channel_id: int,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> MessagePage:
        """A page of history by id cursor, oldest first (members only).

        With `after`, the messages after it; otherwise those before `before` (the newest
        page without it).
        """
        async with self.parts.sessionmaker() as session:
            await channel_for(session=session, channel_id=channel_id, user_id=user_id)
            if after is not None:
                return await messages_db.list_messages_after(
                    session=session, channel_id=channel_id, after=after, limit=limit
                )
            return await messages_db.list_messages_before(
                session=session, channel_id=channel_id, before=before, limit=limit
            )
