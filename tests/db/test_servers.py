"""Servers and memberships: creation, visibility, updates, joining, roles and ownership."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.channels import get_channel_access, list_channels
from service.db.invites import create_invite
from service.db.memberships import (
    add_member,
    count_members,
    get_role,
    list_member_user_ids,
    list_members,
    list_server_ids_of_user,
    member_user_ids_of_servers_of,
    remove_member,
    set_role,
    transfer_ownership,
)
from service.db.servers import (
    UNSET,
    ServerChanges,
    ServerFields,
    create_server,
    get_server,
    get_visible_server,
    join_server,
    list_visible_servers,
    update_server,
)
from service.errors import (
    AlreadyMember,
    InviteNotFound,
    InviteRequired,
    OwnerCannotLeave,
    ServerNotFound,
    UserNotFound,
)
from tests.support.factories import general_channel_id, make_server, make_user

pytestmark = pytest.mark.anyio


async def test_creating_a_server_makes_the_creator_owner_and_a_general_channel(
    session: AsyncSession,
) -> None:
    owner = await make_user(session)

    fields = ServerFields(name="Guild", is_public=True)
    server = await create_server(session=session, owner_id=owner.id, fields=fields)

    assert (server.name, server.is_public, server.owner_id) == ("Guild", True, owner.id)
    assert server.created_at == server.updated_at
    assert await get_role(session=session, server_id=server.id, user_id=owner.id) == "owner"
    assert [c.name for c in await list_channels(session=session, server_id=server.id)] == [
        "general"
    ]


async def test_visible_servers_are_public_ones_and_the_users_own_with_role_and_count(
    session: AsyncSession,
) -> None:
    alice, bob = await make_user(session), await make_user(session)
    public = await make_server(session, alice, name="Public", is_public=True)
    alice_private = await make_server(session, alice, name="Alice's")
    bob_private = await make_server(session, bob, name="Bob's")
    await add_member(session=session, server_id=public.id, user_id=bob.id)

    seen = await list_visible_servers(session=session, user_id=bob.id)

    assert [(v.server.id, v.role, v.member_count) for v in seen] == [
        (public.id, "member", 2),
        (bob_private.id, "owner", 1),
    ]
    assert (
        await get_visible_server(session=session, server_id=alice_private.id, user_id=bob.id)
        is None
    )
    view = await get_visible_server(session=session, server_id=public.id, user_id=alice.id)
    assert view is not None
    assert (view.role, view.member_count) == ("owner", 2)
    assert await get_visible_server(session=session, server_id=999, user_id=bob.id) is None


async def test_update_changes_only_the_given_fields_and_accepts_explicit_nulls(
    session: AsyncSession,
) -> None:
    owner = await make_user(session)
    fields = ServerFields(name="Old", thumbnail="t.png", banner="b.png")
    server = await create_server(session=session, owner_id=owner.id, fields=fields)

    changes = ServerChanges(name="New", thumbnail=None, banner=UNSET)
    updated = await update_server(session=session, server_id=server.id, changes=changes)

    assert (updated.name, updated.thumbnail, updated.banner, updated.is_public) == (
        "New",
        None,
        "b.png",
        False,
    )
    assert updated.updated_at >= updated.created_at
    with pytest.raises(ServerNotFound):
        await update_server(session=session, server_id=999, changes=ServerChanges(name="x"))


async def test_joining_a_public_server_needs_no_code(session: AsyncSession) -> None:
    owner, guest = await make_user(session), await make_user(session)
    server = await make_server(session, owner, is_public=True)

    membership = await join_server(session=session, server_id=server.id, user_id=guest.id)

    assert (membership.server_id, membership.user_id, membership.role) == (
        server.id,
        guest.id,
        "member",
    )
    with pytest.raises(AlreadyMember):
        await join_server(session=session, server_id=server.id, user_id=guest.id)


async def test_joining_a_private_server_needs_an_invite_of_that_server(
    session: AsyncSession,
) -> None:
    owner, guest = await make_user(session), await make_user(session)
    private, other = await make_server(session, owner), await make_server(session, owner)
    foreign = await create_invite(session=session, server_id=other.id, created_by=owner.id)
    invite = await create_invite(session=session, server_id=private.id, created_by=owner.id)

    with pytest.raises(InviteRequired):
        await join_server(session=session, server_id=private.id, user_id=guest.id)
    with pytest.raises(InviteNotFound):
        await join_server(
            session=session, server_id=private.id, user_id=guest.id, code=foreign.code
        )
    with pytest.raises(ServerNotFound):
        await join_server(session=session, server_id=999, user_id=guest.id)
    membership = await join_server(
        session=session, server_id=private.id, user_id=guest.id, code=invite.code
    )
    assert membership.server_id == private.id


async def test_members_are_listed_in_join_order_with_their_users(session: AsyncSession) -> None:
    users = [await make_user(session) for _ in range(3)]
    server = await make_server(session, users[0])
    for user in (users[2], users[1]):
        await add_member(session=session, server_id=server.id, user_id=user.id)

    members = await list_members(session=session, server_id=server.id)

    assert [(m.user.id, m.role) for m in members] == [
        (users[0].id, "owner"),
        (users[2].id, "member"),
        (users[1].id, "member"),
    ]
    assert await list_member_user_ids(session=session, server_id=server.id) == sorted(
        u.id for u in users
    )
    assert await list_server_ids_of_user(session=session, user_id=users[1].id) == [server.id]
    assert await count_members(session=session, server_ids=[server.id, 999]) == {
        server.id: 3,
        999: 0,
    }


async def test_roles_change_but_the_owner_is_only_replaced_by_a_transfer(
    session: AsyncSession,
) -> None:
    owner, helper = await make_user(session), await make_user(session)
    server = await make_server(session, owner)
    await add_member(session=session, server_id=server.id, user_id=helper.id)

    promoted = await set_role(session=session, server_id=server.id, user_id=helper.id, role="admin")

    assert promoted.role == "admin"
    with pytest.raises(OwnerCannotLeave):
        await set_role(session=session, server_id=server.id, user_id=owner.id, role="member")
    with pytest.raises(UserNotFound, match="is not a member"):
        await set_role(session=session, server_id=server.id, user_id=999, role="admin")


async def test_transferring_ownership_makes_the_previous_owner_admin(
    session: AsyncSession,
) -> None:
    owner, heir = await make_user(session), await make_user(session)
    first = await make_server(session, owner)
    await add_member(session=session, server_id=first.id, user_id=heir.id)

    previous, new = await transfer_ownership(
        session=session, server_id=first.id, new_owner_id=heir.id
    )
    await session.commit()

    assert previous is not None
    assert (previous.user_id, previous.role, new.user_id, new.role) == (
        owner.id,
        "admin",
        heir.id,
        "owner",
    )
    server = await get_server(session=session, server_id=first.id)
    assert server is not None
    assert server.owner_id == heir.id
    # And back: now the new owner's membership has the lower id, so a single flush
    # would promote before demoting and trip the one-owner index.
    back = await set_role(session=session, server_id=first.id, user_id=owner.id, role="owner")
    assert back.role == "owner"
    assert await get_role(session=session, server_id=first.id, user_id=heir.id) == "admin"
    with pytest.raises(UserNotFound):
        await transfer_ownership(session=session, server_id=first.id, new_owner_id=999)
    with pytest.raises(ServerNotFound):
        await transfer_ownership(session=session, server_id=999, new_owner_id=owner.id)


async def test_members_can_leave_but_the_owner_cannot(session: AsyncSession) -> None:
    owner, guest = await make_user(session), await make_user(session)
    server = await make_server(session, owner)
    await add_member(session=session, server_id=server.id, user_id=guest.id)

    removed = await remove_member(session=session, server_id=server.id, user_id=guest.id)

    assert removed is not None
    assert removed.user_id == guest.id
    assert await get_role(session=session, server_id=server.id, user_id=guest.id) is None
    assert await remove_member(session=session, server_id=server.id, user_id=guest.id) is None
    with pytest.raises(OwnerCannotLeave, match=f"server {server.id}"):
        await remove_member(session=session, server_id=server.id, user_id=owner.id)


async def test_channel_access_loads_channel_server_and_role_together(
    session: AsyncSession,
) -> None:
    owner, stranger = await make_user(session), await make_user(session)
    server = await make_server(session, owner)
    channel_id = await general_channel_id(session, server.id)

    mine = await get_channel_access(session=session, channel_id=channel_id, user_id=owner.id)
    theirs = await get_channel_access(session=session, channel_id=channel_id, user_id=stranger.id)

    assert mine is not None
    assert theirs is not None
    assert (mine.channel.id, mine.server.id, mine.role) == (channel_id, server.id, "owner")
    assert (theirs.server.is_public, theirs.role) == (False, None)
    assert await get_channel_access(session=session, channel_id=999, user_id=owner.id) is None


async def test_the_members_of_the_servers_of_one_user_or_several_come_in_one_answer(
    session: AsyncSession,
) -> None:
    ann, bob, cid, dan = [await make_user(session, n) for n in ("ann", "bob", "cid", "dan")]
    first = await make_server(session, ann, name="First")
    second = await make_server(session, bob, name="Second")
    await make_server(session, dan, name="Dan's")
    for server, user in ((first, cid), (second, cid), (second, ann)):
        await add_member(session=session, server_id=server.id, user_id=user.id)
    await session.commit()

    # One user (the connect and disconnect path) and several: the same shape of answer.
    of_cid = await member_user_ids_of_servers_of(session=session, user_ids=[cid.id])
    assert of_cid == {
        first.id: sorted([ann.id, cid.id]),
        second.id: sorted([ann.id, bob.id, cid.id]),
    }
    of_two = await member_user_ids_of_servers_of(session=session, user_ids={bob.id, cid.id})
    assert of_two == of_cid
    assert await member_user_ids_of_servers_of(session=session, user_ids=[]) == {}
