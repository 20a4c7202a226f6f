"""Tag `messages`: history pages, and posting, editing and deleting messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from generated.rest.models import (
    MessageCreateRequest,
    MessagePage,
    MessagePageAfter,
    MessagePageBefore,
    MessageResponse,
    MessageUpdateRequest,
)
from service.api.access import MODERATORS, channel_for
from service.api.body import strict, trimmed
from service.api.deps import Context, CurrentUser, SessionDep
from service.api.params import ChannelId, Cursor, MessageId, PageLimit
from service.api.views import rest_message
from service.db import messages as messages_db
from service.db.messages import AuthoredMessage
from service.errors import Forbidden, MessageNotFound, RateLimited, ValidationFailed
from service.wire import message_out

router = APIRouter(prefix="/api/channels/{channelId}/messages", tags=["messages"])


@router.get("", operation_id="list_messages")
async def list_messages(
    channel_id: ChannelId,
    principal: CurrentUser,
    session: SessionDep,
    limit: PageLimit = 50,
    before: Cursor = None,
    after: Cursor = None,
) -> MessagePage:
    """A page of history by id cursor, oldest first (members only)."""
    if before is not None and after is not None:
        raise ValidationFailed(
            "`before` and `after` are mutually exclusive",
            details=[
                {"loc": ["query", "after"], "msg": "not allowed with `before`", "type": "exclusive"}
            ],
        )
    await channel_for(session=session, channel_id=channel_id, user_id=principal.user_id)
    if after is not None:
        page = await messages_db.list_messages_after(
            session=session, channel_id=channel_id, after=after, limit=limit
        )
        return MessagePage(
            MessagePageAfter(
                messages=[rest_message(item) for item in page.messages],
                next_after=page.next_cursor,
            )
        )
    page = await messages_db.list_messages_before(
        session=session, channel_id=channel_id, before=before, limit=limit
    )
    return MessagePage(
        MessagePageBefore(
            messages=[rest_message(item) for item in page.messages], next_before=page.next_cursor
        )
    )


@router.post("", operation_id="create_message", status_code=201)
async def create_message(
    channel_id: ChannelId,
    principal: CurrentUser,
    body: Annotated[MessageCreateRequest, strict(MessageCreateRequest)],
    context: Context,
    session: SessionDep,
) -> MessageResponse:
    """Store a message and broadcast the same object as `message:new` (members only)."""
    await channel_for(session=session, channel_id=channel_id, user_id=principal.user_id)
    wait = await context.message_limiter.acquire(f"messages:{principal.user_id}")
    if wait is not None:
        raise RateLimited(wait, "too many messages; slow down")
    row = await messages_db.create_message(
        session=session,
        channel_id=channel_id,
        user_id=principal.user_id,
        content=trimmed(body.content, "content"),
    )
    await session.commit()
    message = message_out(AuthoredMessage(message=row, username=principal.username))
    await context.notifier.message_created(message)
    return MessageResponse(message=message)


@router.patch("/{messageId}", operation_id="update_message")
async def update_message(
    channel_id: ChannelId,
    message_id: MessageId,
    principal: CurrentUser,
    body: Annotated[MessageUpdateRequest, strict(MessageUpdateRequest)],
    context: Context,
    session: SessionDep,
) -> MessageResponse:
    """Edit a message (its author only) and broadcast `message:updated`."""
    await channel_for(session=session, channel_id=channel_id, user_id=principal.user_id)
    item = await _message_in(session=session, channel_id=channel_id, message_id=message_id)
    if item.message.user_id != principal.user_id:
        raise Forbidden(f"only the author can edit message {message_id!r}")
    row = await messages_db.update_message(
        session=session, message_id=message_id, content=trimmed(body.content, "content")
    )
    await session.commit()
    message = message_out(AuthoredMessage(message=row, username=item.username))
    await context.notifier.message_updated(message)
    return MessageResponse(message=message)


@router.delete("/{messageId}", operation_id="delete_message", status_code=204)
async def delete_message(
    channel_id: ChannelId,
    message_id: MessageId,
    principal: CurrentUser,
    context: Context,
    session: SessionDep,
) -> None:
    """Delete a message (its author, an admin or the owner) and broadcast `message:deleted`."""
    access = await channel_for(session=session, channel_id=channel_id, user_id=principal.user_id)
    item = await _message_in(session=session, channel_id=channel_id, message_id=message_id)
    if item.message.user_id != principal.user_id and access.role not in MODERATORS:
        raise Forbidden(f"only the author, an admin or the owner can delete message {message_id!r}")
    await messages_db.delete_message(session=session, message_id=message_id)
    await session.commit()
    await context.notifier.message_deleted(message_id=message_id, channel_id=channel_id)


async def _message_in(
    *, session: AsyncSession, channel_id: int, message_id: int
) -> AuthoredMessage:
    """A message of this channel, else 404 E_MESSAGE_NOT_FOUND."""
    item = await messages_db.get_authored_message(session=session, message_id=message_id)
    if item is None or item.message.channel_id != channel_id:
        raise MessageNotFound(message_id, f"no message {message_id!r} in channel {channel_id!r}")
    return item
