"""Small builders for DB tests: real rows through the real query functions (and read back)."""

from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from service.db.channels import list_channels
from service.db.messages import list_messages_after
from service.db.servers import ServerFields, create_server
from service.db.tables import ServerRow, UserRow
from service.db.users import create_user

_counter = itertools.count(1)


async def make_user(session: AsyncSession, username: str | None = None) -> UserRow:
    """A user with a unique email (the password hash is a placeholder)."""
    n = next(_counter)
    name = username or f"user{n}"
    return await create_user(
        session=session,
        username=name,
        email=f"{name}.{n}@example.test",
        password_hash="$argon2id$placeholder",
    )


async def make_server(
    session: AsyncSession, owner: UserRow, *, name: str = "Guild", is_public: bool = False
) -> ServerRow:
    """A server owned by `owner` (with its `general` channel)."""
    fields = ServerFields(name=name, is_public=is_public)
    return await create_server(session=session, owner_id=owner.id, fields=fields)


async def stored_contents(session: AsyncSession, channel_id: int) -> list[str]:
    """The content of every message of the channel, oldest first (all history pages)."""
    page = await list_messages_after(session=session, channel_id=channel_id, after=0, limit=100)
    contents = [m.message.content for m in page.messages]
    while page.next_cursor is not None:
        page = await list_messages_after(
            session=session, channel_id=channel_id, after=page.next_cursor, limit=100
        )
        contents += [m.message.content for m in page.messages]
    return contents


async def general_channel_id(session: AsyncSession, server_id: int) -> int:
    """The id of the `general` channel every new server gets."""
    [general] = await list_channels(session=session, server_id=server_id)
    return general.id
