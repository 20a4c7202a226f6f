"""Queries on servers: creation, visibility, updates, joining and deletion."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.db.channels import DEFAULT_CHANNEL_NAME, create_channel
from service.db.invites import accept_invite
from service.db.memberships import add_member, get_membership
from service.db.tables import ChannelRow, MembershipRow, Role, ServerRow, as_role
from service.db.timestamps import utcnow
from service.errors import AlreadyMember, InviteRequired, ServerNotFound


class Unset(enum.Enum):
    """Marks a PATCH field the client did not send (as opposed to an explicit null)."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


@dataclass(frozen=True, slots=True)
class ServerFields:
    """What a server's creator chooses of it: name, visibility and images."""

    name: str
    is_public: bool = False
    thumbnail: str | None = None
    banner: str | None = None


@dataclass(frozen=True, slots=True)
class ServerChanges:
    """The fields of a server change; UNSET ones stay as they are."""

    name: str | Unset = UNSET
    is_public: bool | Unset = UNSET
    thumbnail: str | Unset | None = UNSET
    banner: str | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class ServerView:
    """A server as one user sees it: their role (None if not a member) and the member count."""

    server: ServerRow
    role: Role | None
    member_count: int


async def create_server(
    *,
    session: AsyncSession,
    owner_id: int,
    fields: ServerFields,
    now: datetime | None = None,
) -> ServerRow:
    """Create a server owned by `owner_id`, with its owner membership and a `general` channel."""
    created_at = now or utcnow()
    server = ServerRow(
        name=fields.name,
        is_public=fields.is_public,
        thumbnail=fields.thumbnail,
        banner=fields.banner,
        owner_id=owner_id,
        created_at=created_at,
        updated_at=created_at,
    )
    session.add(server)
    await session.flush()
    await add_member(
        session=session, server_id=server.id, user_id=owner_id, role="owner", now=created_at
    )
    await create_channel(
        session=session, server_id=server.id, name=DEFAULT_CHANNEL_NAME, now=created_at
    )
    return server


async def get_server(*, session: AsyncSession, server_id: int) -> ServerRow | None:
    """The server with this id, or None."""
    return await session.get(ServerRow, server_id)


async def _visible_servers(
    *, session: AsyncSession, user_id: int, server_id: int | None
) -> list[ServerView]:
    """Public servers and the user's servers (optionally only one), ordered by id."""
    member_count = (
        select(func.count())
        .where(col(MembershipRow.server_id) == col(ServerRow.id))
        .correlate(ServerRow)
        .scalar_subquery()
    )
    stmt = (
        select(ServerRow, col(MembershipRow.role), member_count)
        .outerjoin(
            MembershipRow,
            (col(MembershipRow.server_id) == col(ServerRow.id))
            & (col(MembershipRow.user_id) == user_id),
        )
        .where(or_(col(ServerRow.is_public), col(MembershipRow.id).is_not(None)))
        .order_by(col(ServerRow.id))
    )
    if server_id is not None:
        stmt = stmt.where(col(ServerRow.id) == server_id)
    result = await session.execute(stmt)
    return [
        ServerView(
            server=server, role=as_role(role) if role is not None else None, member_count=count
        )
        for server, role, count in result
    ]


async def list_visible_servers(*, session: AsyncSession, user_id: int) -> list[ServerView]:
    """Public servers plus the user's servers, ordered by id, with role and member count."""
    return await _visible_servers(session=session, user_id=user_id, server_id=None)


async def get_visible_server(
    *, session: AsyncSession, server_id: int, user_id: int
) -> ServerView | None:
    """The server as the user sees it; None when missing or private and not theirs."""
    views = await _visible_servers(session=session, user_id=user_id, server_id=server_id)
    return views[0] if views else None


async def update_server(
    *, session: AsyncSession, server_id: int, changes: ServerChanges, now: datetime | None = None
) -> ServerRow:
    """Change the given fields (UNSET ones stay); raises ServerNotFound."""
    server = await session.get(ServerRow, server_id)
    if server is None:
        raise ServerNotFound(server_id)
    if not isinstance(changes.name, Unset):
        server.name = changes.name
    if not isinstance(changes.is_public, Unset):
        server.is_public = changes.is_public
    if not isinstance(changes.thumbnail, Unset):
        server.thumbnail = changes.thumbnail
    if not isinstance(changes.banner, Unset):
        server.banner = changes.banner
    server.updated_at = now or utcnow()
    await session.flush()
    return server


async def join_server(
    *,
    session: AsyncSession,
    server_id: int,
    user_id: int,
    code: str | None = None,
    now: datetime | None = None,
) -> MembershipRow:
    """Join a public server, or a private one with an invite code for it."""
    # Raises ServerNotFound, AlreadyMember, InviteRequired, InviteNotFound, InviteExpired.
    server = await session.get(ServerRow, server_id)
    if server is None:
        raise ServerNotFound(server_id)
    if await get_membership(session=session, server_id=server_id, user_id=user_id) is not None:
        raise AlreadyMember(server_id)
    if server.is_public:
        return await add_member(session=session, server_id=server_id, user_id=user_id, now=now)
    if code is None:
        raise InviteRequired(server_id)
    return await accept_invite(
        session=session, code=code, user_id=user_id, server_id=server_id, now=now
    )


async def delete_server(*, session: AsyncSession, server_id: int) -> list[int]:
    """Delete a server and its channels, messages, memberships, invites; returns channel ids."""
    # The channel ids are for emptying their socket rooms; the cascade is the database's.
    channel_ids = list(
        (
            await session.scalars(
                select(col(ChannelRow.id))
                .where(col(ChannelRow.server_id) == server_id)
                .order_by(col(ChannelRow.id))
            )
        ).all()
    )
    result = await session.scalars(
        delete(ServerRow).where(col(ServerRow.id) == server_id).returning(col(ServerRow.id))
    )
    if result.one_or_none() is None:
        raise ServerNotFound(server_id)
    return channel_ids
