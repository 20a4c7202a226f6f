"""Tag `messages`: history pages, and posting, editing and deleting messages (service.chat)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from generated.rest.models import (
    MessageCreateRequest,
    MessagePage,
    MessagePageAfter,
    MessagePageBefore,
    MessageResponse,
    MessageUpdateRequest,
)
from service.api.body import strict
from service.api.caller import Me
from service.api.params import ChannelId, Cursor, MessageId, PageLimit
from service.api.views import rest_message
from service.errors import ValidationFailed

router = APIRouter(prefix="/api/channels/{channelId}/messages", tags=["messages"])


@router.get("", operation_id="list_messages")
async def list_messages(
    channel_id: ChannelId,
    me: Me,
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
    page = await me.chat.messages.page(
        user_id=me.user_id, channel_id=channel_id, limit=limit, before=before, after=after
    )
    messages = [rest_message(item) for item in page.messages]
    if after is not None:
        return MessagePage(MessagePageAfter(messages=messages, next_after=page.next_cursor))
    return MessagePage(MessagePageBefore(messages=messages, next_before=page.next_cursor))


@router.post("", operation_id="create_message", status_code=201)
async def create_message(
    channel_id: ChannelId,
    me: Me,
    body: Annotated[MessageCreateRequest, strict(MessageCreateRequest)],
) -> MessageResponse:
    """Store a message and broadcast the same object as `message:new` (members only)."""
    message = await me.chat.messages.post(
        user_id=me.user_id, username=me.username, channel_id=channel_id, content=body.content
    )
    return MessageResponse(message=message)


@router.patch("/{messageId}", operation_id="update_message")
async def update_message(
    channel_id: ChannelId,
    message_id: MessageId,
    me: Me,
    body: Annotated[MessageUpdateRequest, strict(MessageUpdateRequest)],
) -> MessageResponse:
    """Edit a message (its author only) and broadcast `message:updated`."""
    message = await me.chat.messages.edit(
        user_id=me.user_id, message_id=message_id, content=body.content, channel_id=channel_id
    )
    return MessageResponse(message=message)


@router.delete("/{messageId}", operation_id="delete_message", status_code=204)
async def delete_message(channel_id: ChannelId, message_id: MessageId, me: Me) -> None:
    """Delete a message (its author, an admin or the owner) and broadcast `message:deleted`."""
    await me.chat.messages.delete(user_id=me.user_id, message_id=message_id, channel_id=channel_id)
