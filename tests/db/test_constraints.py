"""Unique constraints and checks hold in the database, and surface as domain errors."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.channels import create_channel, rename_channel
from service.db.memberships import add_member
from service.db.users import create_user, get_user_by_email
from service.errors import AlreadyMember, ChannelNameTaken, EmailTaken
from tests.support.factories import make_server, make_user

pytestmark = pytest.mark.anyio


async def test_emails_are_stored_lower_cased_and_unique_whatever_their_case(
    session: AsyncSession,
) -> None:
    ann = await create_user(
        session=session, username="ann", email="  Ann@Example.TEST ", password_hash="h"
    )

    with pytest.raises(EmailTaken, match=r"'ann@example\.test'"):
        await create_user(
            session=session, username="imposter", email="ANN@example.test", password_hash="h"
        )

    # The failed insert left the transaction usable.
    await session.commit()
    assert ann.email == "ann@example.test"
    found = await get_user_by_email(session=session, email="ANN@EXAMPLE.test")
    assert found is not None
    assert found.id == ann.id


async def test_a_user_joins_a_server_once(session: AsyncSession) -> None:
    owner, guest = await make_user(session), await make_user(session)
    server = await make_server(session, owner)
    await add_member(session=session, server_id=server.id, user_id=guest.id)

    with pytest.raises(AlreadyMember):
        await add_member(session=session, server_id=server.id, user_id=guest.id)
    with pytest.raises(AlreadyMember):
        await add_member(session=session, server_id=server.id, user_id=owner.id)


async def test_channel_names_are_unique_within_a_server_only(session: AsyncSession) -> None:
    owner = await make_user(session)
    first, second = await make_server(session, owner), await make_server(session, owner)
    await create_channel(session=session, server_id=first.id, name="random")

    with pytest.raises(ChannelNameTaken, match="'random'"):
        await create_channel(session=session, server_id=first.id, name="random")
    other = await create_channel(session=session, server_id=second.id, name="random")
    assert other.server_id == second.id


async def test_renaming_a_channel_onto_a_taken_name_is_refused(session: AsyncSession) -> None:
    owner = await make_user(session)
    server = await make_server(session, owner)
    dev = await create_channel(session=session, server_id=server.id, name="dev")

    with pytest.raises(ChannelNameTaken, match="'general'"):
        await rename_channel(session=session, channel_id=dev.id, name="general")
    renamed = await rename_channel(session=session, channel_id=dev.id, name="ops")
    assert renamed.name == "ops"
    assert renamed.updated_at >= renamed.created_at


async def test_the_database_allows_one_owner_per_server(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        owner, usurper = await make_user(session), await make_user(session)
        server = await make_server(session, owner)
        await session.commit()

    async with sessionmaker() as session:
        with pytest.raises(IntegrityError):
            await add_member(session=session, server_id=server.id, user_id=usurper.id, role="owner")


async def test_the_database_rejects_unknown_roles(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        owner, guest = await make_user(session), await make_user(session)
        server = await make_server(session, owner)
        await session.commit()

    async with sessionmaker() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                text(
                    "INSERT INTO memberships (user_id, server_id, role, joined_at) "
                    "VALUES (:user_id, :server_id, 'emperor', CURRENT_TIMESTAMP)"
                ),
                {"user_id": guest.id, "server_id": server.id},
            )


async def test_the_database_rejects_rows_pointing_at_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        with pytest.raises(IntegrityError):
            await create_channel(session=session, server_id=999, name="orphan")
