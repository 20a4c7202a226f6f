"""Queries on channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.db._inserts import insert_unless_conflict
from service.db.engine import Reader
from service.db.tables import ChannelRow, MembershipRow, Role, ServerRow, as_role, core_table
from service.db.timestamps import utcnow
from service.errors import ChannelNameTaken, ChannelNotFound

DEFAULT_CHANNEL_NAME = "general"


@dataclass(frozen=True, slots=True)
class ServerRef:
    """What an access check needs of a channel's server."""

    id: int
    is_public: bool


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    """A channel (a detached row), its server, and the user's role there (None if not a member)."""

    channel: ChannelRow
    server: ServerRef
    role: Role | None


_c = core_table(ChannelRow)
_s = core_table(ServerRow)
_m = core_table(MembershipRow)
# Prebuilt (no ORM): this check runs on every channel:join and every message operation.
_CHANNEL_ACCESS = (
    select(
        _c.c.id,
        _c.c.server_id,
        _c.c.name,
        _c.c.created_at,
        _c.c.updated_at,
        _s.c.is_public,
        _m.c.role,
    )
    .select_from(
        _c.join(_s, _s.c.id == _c.c.server_id).outerjoin(
            _m, (_m.c.server_id == _c.c.server_id) & (_m.c.user_id == bindparam("user_id"))
        )
    )
    .where(_c.c.id == bindparam("channel_id"))
)


async def create_channel(
    *, session: AsyncSession, server_id: int, name: str, now: datetime | None = None
) -> ChannelRow:
    """Create a channel; raises ChannelNameTaken when the server has one with this name."""
    created_at = now or utcnow()
    row = ChannelRow(server_id=server_id, name=name, created_at=created_at, updated_at=created_at)
    created = await insert_unless_conflict(
        session=session, row=row, conflict_columns=["server_id", "name"]
    )
    if created is None:
        raise ChannelNameTaken(name)
    return created


async def get_channel(*, session: AsyncSession, channel_id: int) -> ChannelRow | None:
    """The channel with this id, or None."""
    return await session.get(ChannelRow, channel_id)


async def get_channel_access(
    *, session: Reader, channel_id: int, user_id: int
) -> ChannelAccess | None:
    """A channel with its server and the user's role, in one query; None if no channel."""
    result = await session.execute(_CHANNEL_ACCESS, {"channel_id": channel_id, "user_id": user_id})
    row = result.one_or_none()
    if row is None:
        return None
    id_, server_id, name, created_at, updated_at, is_public, role = row
    channel = ChannelRow(
        id=id_, server_id=server_id, name=name, created_at=created_at, updated_at=updated_at
    )
    return ChannelAccess(
        channel=channel,
        server=ServerRef(id=server_id, is_public=bool(is_public)),
        role=as_role(role) if role is not None else None,
    )


async def list_channels(*, session: AsyncSession, server_id: int) -> list[ChannelRow]:
    """The server's channels, ordered by id."""
    result = await session.scalars(
        select(ChannelRow)
        .where(col(ChannelRow.server_id) == server_id)
        .order_by(col(ChannelRow.id))
    )
    return list(result.all())


async def rename_channel(
    *, session: AsyncSession, channel_id: int, name: str, now: datetime | None = None
) -> ChannelRow:
    """Rename a channel; raises ChannelNotFound or ChannelNameTaken."""
    channel = await session.get(ChannelRow, channel_id)
    if channel is None:
        raise ChannelNotFound(channel_id)
    if channel.name == name:
        return channel
    clash = await session.scalars(
        select(col(ChannelRow.id)).where(
            col(ChannelRow.server_id) == channel.server_id, col(ChannelRow.name) == name
        )
    )
    if clash.first() is not None:
        raise ChannelNameTaken(name)
    channel.name = name
    channel.updated_at = now or utcnow()
    try:
        await session.flush()
    except IntegrityError as exc:
        # Lost a race with a concurrent rename or create; the transaction is void anyway.
        raise ChannelNameTaken(name) from exc
    return channel


async def delete_channel(*, session: AsyncSession, channel_id: int) -> ChannelRow:
    """Delete a channel and, by cascade, its messages; returns the deleted row."""
    channel = await session.get(ChannelRow, channel_id)
    if channel is None:
        raise ChannelNotFound(channel_id)
    await session.execute(delete(ChannelRow).where(col(ChannelRow.id) == channel_id))
    return channel
