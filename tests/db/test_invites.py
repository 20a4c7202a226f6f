"""Invites: codes, expiry, use limits, and no overshoot under concurrent accepts."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.invites import (
    accept_invite,
    create_invite,
    delete_invite,
    get_invite,
    list_invites,
)
from service.db.memberships import list_member_user_ids
from service.db.timestamps import utcnow
from service.errors import AlreadyMember, DomainError, InviteExpired, InviteNotFound
from tests.support.factories import make_server, make_user

pytestmark = pytest.mark.anyio

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


async def test_invite_codes_are_long_url_safe_and_distinct(session: AsyncSession) -> None:
    owner = await make_user(session)
    server = await make_server(session, owner)

    codes = [
        (await create_invite(session=session, server_id=server.id, created_by=owner.id)).code
        for _ in range(20)
    ]

    assert len(set(codes)) == 20
    assert all(len(code) >= 22 for code in codes)
    assert all(URL_SAFE.fullmatch(code) for code in codes)
    listed = await list_invites(session=session, server_id=server.id)
    assert {invite.code for invite in listed} == set(codes)


async def test_accepting_an_invite_adds_a_member_and_counts_the_use(session: AsyncSession) -> None:
    owner, guest = await make_user(session), await make_user(session)
    server = await make_server(session, owner)
    invite = await create_invite(
        session=session, server_id=server.id, created_by=owner.id, max_uses=2
    )

    membership = await accept_invite(session=session, code=invite.code, user_id=guest.id)

    assert (membership.server_id, membership.user_id, membership.role) == (
        server.id,
        guest.id,
        "member",
    )
    stored = await get_invite(session=session, code=invite.code)
    assert stored is not None
    assert stored.uses == 1


async def test_an_invite_is_used_up_after_max_uses(session: AsyncSession) -> None:
    owner = await make_user(session)
    guests = [await make_user(session) for _ in range(3)]
    server = await make_server(session, owner)
    invite = await create_invite(
        session=session, server_id=server.id, created_by=owner.id, max_uses=2
    )

    for guest in guests[:2]:
        await accept_invite(session=session, code=invite.code, user_id=guest.id)

    with pytest.raises(InviteExpired, match=repr(invite.code)):
        await accept_invite(session=session, code=invite.code, user_id=guests[2].id)


async def test_an_expired_invite_is_refused(session: AsyncSession) -> None:
    owner, guest = await make_user(session), await make_user(session)
    server = await make_server(session, owner)
    created = utcnow() - timedelta(hours=2)
    invite = await create_invite(
        session=session,
        server_id=server.id,
        created_by=owner.id,
        expires_in=timedelta(hours=1),
        now=created,
    )

    with pytest.raises(InviteExpired):
        await accept_invite(session=session, code=invite.code, user_id=guest.id)
    assert invite.expires_at == created + timedelta(hours=1)
    membership = await accept_invite(
        session=session, code=invite.code, user_id=guest.id, now=created + timedelta(minutes=59)
    )
    assert membership.user_id == guest.id


async def test_unknown_codes_and_members_are_refused_without_using_the_invite(
    session: AsyncSession,
) -> None:
    owner = await make_user(session)
    server = await make_server(session, owner)
    invite = await create_invite(session=session, server_id=server.id, created_by=owner.id)

    with pytest.raises(InviteNotFound, match="'nope'"):
        await accept_invite(session=session, code="nope", user_id=owner.id)
    with pytest.raises(AlreadyMember):
        await accept_invite(session=session, code=invite.code, user_id=owner.id)
    stored = await get_invite(session=session, code=invite.code)
    assert stored is not None
    assert stored.uses == 0


async def test_a_revoked_invite_no_longer_exists(session: AsyncSession) -> None:
    owner, guest = await make_user(session), await make_user(session)
    server = await make_server(session, owner)
    invite = await create_invite(session=session, server_id=server.id, created_by=owner.id)

    assert await delete_invite(session=session, code=invite.code) is True
    assert await delete_invite(session=session, code=invite.code) is False
    with pytest.raises(InviteNotFound):
        await accept_invite(session=session, code=invite.code, user_id=guest.id)


async def test_twenty_concurrent_accepts_of_a_five_use_invite_admit_exactly_five(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        owner = await make_user(session)
        guests = [await make_user(session) for _ in range(20)]
        server = await make_server(session, owner)
        invite = await create_invite(
            session=session, server_id=server.id, created_by=owner.id, max_uses=5
        )
        await session.commit()
    start = asyncio.Event()

    async def accept(user_id: int) -> str:
        # Each attempt has its own session, so its own connection and transaction.
        async with sessionmaker() as session:
            await start.wait()
            try:
                await accept_invite(session=session, code=invite.code, user_id=user_id)
                await session.commit()
            except DomainError as exc:
                await session.rollback()
                return exc.code
            return "ok"

    tasks = [asyncio.create_task(accept(guest.id)) for guest in guests]
    await asyncio.sleep(0)
    start.set()
    outcomes = await asyncio.gather(*tasks)

    assert sorted(outcomes).count("ok") == 5
    assert set(outcomes) == {"ok", "E_INVITE_EXPIRED"}
    async with sessionmaker() as session:
        stored = await get_invite(session=session, code=invite.code)
        members = await list_member_user_ids(session=session, server_id=server.id)
    assert stored is not None
    assert stored.uses == 5
    assert len(members) == 6
