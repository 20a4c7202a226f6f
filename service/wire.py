"""Rows → wire models: the one place a stored object becomes what clients receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from generated.common.models import Channel, Message, ServerInfo, UserSummary
from service.db.message_writer import StoredMessage
from service.db.messages import AuthoredMessage
from service.db.tables import ChannelRow, MessageRow, ServerRow
from service.db.timestamps import to_wire_timestamp


def message_out(item: AuthoredMessage) -> Message:
    """The message object of `message:new` and of REST history."""
    row = item.message
    assert row.id is not None
    return _message(row, item.username, updated_at=row.updated_at)


def stored_message_out(row: StoredMessage, username: str) -> Message:
    """The message object of a message the writer just stored (never edited yet)."""
    return _message(row, username, updated_at=row.created_at)


def _message(row: MessageRow | StoredMessage, username: str, *, updated_at: datetime) -> Message:
    return Message(
        id=row.id,
        channel_id=row.channel_id,
        content=row.content,
        created_at=to_wire_timestamp(row.created_at),
        updated_at=to_wire_timestamp(updated_at),
        user=UserSummary(id=row.user_id, username=username),
    )


def channel_out(row: ChannelRow) -> Channel:
    """The channel object."""
    assert row.id is not None
    return Channel(
        id=row.id,
        server_id=row.server_id,
        name=row.name,
        created_at=to_wire_timestamp(row.created_at),
        updated_at=to_wire_timestamp(row.updated_at),
    )


def server_info_out(row: ServerRow) -> ServerInfo:
    """The server without caller-specific fields (`server:updated`)."""
    return ServerInfo(**server_fields(row))


def server_fields(row: ServerRow) -> dict[str, Any]:
    """The fields every server object has, whoever asks (REST adds the caller's)."""
    assert row.id is not None
    return {
        "id": row.id,
        "name": row.name,
        "thumbnail": row.thumbnail,
        "banner": row.banner,
        "is_public": row.is_public,
        "owner_id": row.owner_id,
        "created_at": to_wire_timestamp(row.created_at),
        "updated_at": to_wire_timestamp(row.updated_at),
    }
