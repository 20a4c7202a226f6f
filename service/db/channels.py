"""Queries on channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.db._inserts import insert_unless_conflict
from service.db.tables import ChannelRow, MembershipRow, Role, ServerRow, as_role
from service.db.timestamps import utcnow
from service.errors import ChannelNameTaken, ChannelNotFound

DEFAULT_CHANNEL_NAME = "general"


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    """A channel, its server, and the user's role there (None if not a member)."""

    channel: ChannelRow
    server: ServerRow
    role: Role | None


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
    *, session: AsyncSession, channel_id: int, user_id: int
) -> ChannelAccess | None:
    """Load a channel with its server and the user's role in one query; None if no channel."""
    result = await session.execute(
        select(ChannelRow, ServerRow, col(MembershipRow.role))
        .join(ServerRow, col(ServerRow.id) == col(ChannelRow.server_id))
        .outerjoin(
            MembershipRow,
            (col(MembershipRow.server_id) == col(ChannelRow.server_id))
            & (col(MembershipRow.user_id) == user_id),
        )
        .where(col(ChannelRow.id) == channel_id)
    )
    row = result.one_or_none()
    if row is None:
        return None
    channel, server, role = row
    return ChannelAccess(
        channel=channel, server=server, role=as_role(role) if role is not None else None
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
