"""Deleting a server or channel removes everything that belongs to it, in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.db.channels import create_channel, delete_channel
from service.db.invites import create_invite
from service.db.memberships import add_member
from service.db.messages import create_message
from service.db.servers import delete_server
from service.db.tables import (
    ChannelRow,
    InviteRow,
    MembershipRow,
    MessageRow,
    ServerRow,
    TableBase,
    UserRow,
)
from service.errors import ChannelNotFound, ServerNotFound
from tests.support.factories import general_channel_id, make_server, make_user

pytestmark = pytest.mark.anyio


async def _count(session: AsyncSession, model: type[TableBase], *where: ColumnElement[bool]) -> int:
    """Rows of a table matching the conditions."""
    stmt = select(func.count()).select_from(model).where(*where)
    return int((await session.execute(stmt)).scalar_one())


async def test_deleting_a_server_removes_its_channels_messages_memberships_and_invites(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        owner, guest = await make_user(session), await make_user(session)
        doomed, kept = await make_server(session, owner), await make_server(session, owner)
        await add_member(session=session, server_id=doomed.id, user_id=guest.id)
        general = await general_channel_id(session, doomed.id)
        extra = await create_channel(session=session, server_id=doomed.id, name="extra")
        for channel_id in (general, extra.id, await general_channel_id(session, kept.id)):
            await create_message(
                session=session, channel_id=channel_id, user_id=guest.id, content="hello"
            )
        await create_invite(session=session, server_id=doomed.id, created_by=owner.id)
        await create_invite(session=session, server_id=kept.id, created_by=owner.id)
        await session.commit()
        doomed_id, kept_id = doomed.id, kept.id

    async with sessionmaker() as session:
        deleted_channels = await delete_server(session=session, server_id=doomed_id)
        await session.commit()

    assert deleted_channels == sorted([general, extra.id])
    async with sessionmaker() as session:
        assert await _count(session, ServerRow) == 1
        assert await _count(session, ChannelRow, col(ChannelRow.server_id) == doomed_id) == 0
        assert await _count(session, MembershipRow, col(MembershipRow.server_id) == doomed_id) == 0
        assert await _count(session, InviteRow, col(InviteRow.server_id) == doomed_id) == 0
        assert await _count(session, MessageRow) == 1
        assert await _count(session, ChannelRow, col(ChannelRow.server_id) == kept_id) == 1
        assert await _count(session, MembershipRow, col(MembershipRow.server_id) == kept_id) == 1
        assert await _count(session, InviteRow, col(InviteRow.server_id) == kept_id) == 1
        assert await _count(session, UserRow) == 2


async def test_deleting_a_channel_removes_its_messages_and_nothing_else(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        owner = await make_user(session)
        server = await make_server(session, owner)
        general = await general_channel_id(session, server.id)
        doomed = await create_channel(session=session, server_id=server.id, name="doomed")
        for channel_id in (general, doomed.id, doomed.id):
            await create_message(
                session=session, channel_id=channel_id, user_id=owner.id, content="x"
            )
        await session.commit()
        doomed_id = doomed.id

    async with sessionmaker() as session:
        deleted = await delete_channel(session=session, channel_id=doomed_id)
        await session.commit()

    assert (deleted.id, deleted.server_id, deleted.name) == (doomed_id, server.id, "doomed")
    async with sessionmaker() as session:
        assert await _count(session, MessageRow, col(MessageRow.channel_id) == doomed_id) == 0
        assert await _count(session, MessageRow, col(MessageRow.channel_id) == general) == 1
        assert await _count(session, ChannelRow) == 1
        assert await _count(session, ServerRow) == 1


async def test_deleting_an_unknown_server_or_channel_raises_not_found(
    session: AsyncSession,
) -> None:
    with pytest.raises(ServerNotFound, match="no server 404"):
        await delete_server(session=session, server_id=404)
    with pytest.raises(ChannelNotFound, match="no channel 404"):
        await delete_channel(session=session, channel_id=404)
