"""Queries on memberships: who belongs to which server, with which role."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.db._inserts import insert_unless_conflict
from service.db.engine import Reader
from service.db.tables import MembershipRow, Role, ServerRow, UserRow, as_role, core_table
from service.db.timestamps import utcnow
from service.errors import AlreadyMember, OwnerCannotLeave, ServerNotFound, UserNotFound

_m = core_table(MembershipRow)
# Prebuilt Core statements for the reads of every connect, join and presence update:
# half the CPU of building an ORM query each time (statement, cache key, ORM compile).
_ROLE = select(_m.c.role).where(
    _m.c.server_id == bindparam("server_id"), _m.c.user_id == bindparam("user_id")
)
_MEMBER_IDS = (
    select(_m.c.user_id).where(_m.c.server_id == bindparam("server_id")).order_by(_m.c.user_id)
)


def _member_ids_of_servers_of(users: Any) -> Select[int, int]:
    return (
        select(_m.c.server_id, _m.c.user_id)
        .where(_m.c.server_id.in_(select(_m.c.server_id).where(users)))
        .order_by(_m.c.server_id, _m.c.user_id)
    )


_MEMBER_IDS_OF_SERVERS_OF = _member_ids_of_servers_of(
    _m.c.user_id.in_(bindparam("user_ids", expanding=True))
)
# The connect and disconnect of one user: an expanding IN is rendered again on every
# execution (3% of a connect's CPU in py-spy); a plain parameter is not.
_MEMBER_IDS_OF_SERVERS_OF_ONE = _member_ids_of_servers_of(_m.c.user_id == bindparam("user_id"))


@dataclass(frozen=True, slots=True)
class Member:
    """A membership together with its user."""

    membership: MembershipRow
    user: UserRow

    @property
    def role(self) -> Role:
        """The member's role."""
        return as_role(self.membership.role)


async def add_member(
    *,
    session: AsyncSession,
    server_id: int,
    user_id: int,
    role: Role = "member",
    now: datetime | None = None,
) -> MembershipRow:
    """Add a user to a server; raises AlreadyMember when they belong already."""
    row = MembershipRow(user_id=user_id, server_id=server_id, role=role, joined_at=now or utcnow())
    created = await insert_unless_conflict(
        session=session, row=row, conflict_columns=["user_id", "server_id"]
    )
    if created is None:
        raise AlreadyMember(server_id)
    return created


async def get_membership(
    *, session: AsyncSession, server_id: int, user_id: int
) -> MembershipRow | None:
    """The user's membership of the server, or None."""
    result = await session.scalars(
        select(MembershipRow).where(
            col(MembershipRow.server_id) == server_id, col(MembershipRow.user_id) == user_id
        )
    )
    return result.one_or_none()


async def get_role(*, session: Reader, server_id: int, user_id: int) -> Role | None:
    """The user's role in the server, or None when not a member."""
    result = await session.scalars(_ROLE, {"server_id": server_id, "user_id": user_id})
    role = result.one_or_none()
    return as_role(role) if role is not None else None


async def get_member(*, session: AsyncSession, server_id: int, user_id: int) -> Member | None:
    """The membership and user of one member, or None."""
    result = await session.execute(
        select(MembershipRow, UserRow)
        .join(UserRow, col(UserRow.id) == col(MembershipRow.user_id))
        .where(col(MembershipRow.server_id) == server_id, col(MembershipRow.user_id) == user_id)
    )
    row = result.one_or_none()
    return Member(membership=row[0], user=row[1]) if row is not None else None


async def list_members(*, session: AsyncSession, server_id: int) -> list[Member]:
    """Every member of the server, in the order they joined."""
    result = await session.execute(
        select(MembershipRow, UserRow)
        .join(UserRow, col(UserRow.id) == col(MembershipRow.user_id))
        .where(col(MembershipRow.server_id) == server_id)
        .order_by(col(MembershipRow.id))
    )
    return [Member(membership=membership, user=user) for membership, user in result.all()]


async def list_member_user_ids(*, session: Reader, server_id: int) -> list[int]:
    """The user ids of the server's members, ascending."""
    result = await session.scalars(_MEMBER_IDS, {"server_id": server_id})
    return list(result.all())


async def list_server_ids_of_user(*, session: AsyncSession, user_id: int) -> list[int]:
    """The ids of the servers the user belongs to, ascending."""
    result = await session.scalars(
        select(col(MembershipRow.server_id))
        .where(col(MembershipRow.user_id) == user_id)
        .order_by(col(MembershipRow.server_id))
    )
    return list(result.all())


async def count_members(*, session: AsyncSession, server_ids: Collection[int]) -> dict[int, int]:
    """Member counts per server id (0 for a server without members or unknown)."""
    counts = dict.fromkeys(server_ids, 0)
    if not counts:
        return counts
    result = await session.execute(
        select(col(MembershipRow.server_id), func.count())
        .where(col(MembershipRow.server_id).in_(list(counts)))
        .group_by(col(MembershipRow.server_id))
    )
    for server_id, count in result:
        counts[server_id] = count
    return counts


async def set_role(
    *, session: AsyncSession, server_id: int, user_id: int, role: Role
) -> MembershipRow:
    """Change a member's role; `owner` transfers ownership (the previous owner becomes admin)."""
    # Raises UserNotFound for a non-member, and OwnerCannotLeave when asked to demote the
    # owner: ownership only moves by naming a new owner.
    if role == "owner":
        _previous, new_owner = await transfer_ownership(
            session=session, server_id=server_id, new_owner_id=user_id
        )
        return new_owner
    membership = await get_membership(session=session, server_id=server_id, user_id=user_id)
    if membership is None:
        raise UserNotFound(user_id, f"user {user_id!r} is not a member of server {server_id!r}")
    if membership.role == "owner":
        raise OwnerCannotLeave(
            server_id, f"the owner of server {server_id!r} cannot be demoted; transfer ownership"
        )
    if membership.role != role:
        membership.role = role
        await session.flush()
    return membership


async def transfer_ownership(
    *, session: AsyncSession, server_id: int, new_owner_id: int, now: datetime | None = None
) -> tuple[MembershipRow | None, MembershipRow]:
    """Make a member the owner and the previous owner an admin; returns (previous, new)."""
    # Lock the server row so two transfers of one server serialise (a no-op on SQLite,
    # where writers are serialised anyway).
    server = (
        await session.scalars(
            select(ServerRow).where(col(ServerRow.id) == server_id).with_for_update()
        )
    ).one_or_none()
    if server is None:
        raise ServerNotFound(server_id)
    target = await get_membership(session=session, server_id=server_id, user_id=new_owner_id)
    if target is None:
        raise UserNotFound(
            new_owner_id, f"user {new_owner_id!r} is not a member of server {server_id!r}"
        )
    if target.role == "owner":
        return None, target
    previous = (
        await session.scalars(
            select(MembershipRow).where(
                col(MembershipRow.server_id) == server_id, col(MembershipRow.role) == "owner"
            )
        )
    ).one_or_none()
    # Demote first and flush: a partial unique index allows one owner per server, and
    # the unit of work would otherwise order the two UPDATEs by primary key.
    if previous is not None:
        previous.role = "admin"
        await session.flush()
    target.role = "owner"
    server.owner_id = new_owner_id
    server.updated_at = now or utcnow()
    await session.flush()
    return previous, target


async def remove_member(
    *, session: AsyncSession, server_id: int, user_id: int
) -> MembershipRow | None:
    """Remove a member (leave or kick); returns the membership, None if not a member."""
    # The owner cannot leave or be kicked (OwnerCannotLeave) without a transfer first.
    membership = await get_membership(session=session, server_id=server_id, user_id=user_id)
    if membership is None:
        return None
    if membership.role == "owner":
        raise OwnerCannotLeave(server_id)
    await session.delete(membership)
    await session.flush()
    return membership


async def member_user_ids_by_server(
    *, session: AsyncSession, server_ids: Collection[int]
) -> dict[int, list[int]]:
    """The member user ids of each server, in one query (an empty list for none)."""
    members: dict[int, list[int]] = {server_id: [] for server_id in server_ids}
    if not members:
        return members
    result = await session.execute(
        select(col(MembershipRow.server_id), col(MembershipRow.user_id))
        .where(col(MembershipRow.server_id).in_(list(members)))
        .order_by(col(MembershipRow.server_id), col(MembershipRow.user_id))
    )
    for server_id, user_id in result:
        members[server_id].append(user_id)
    return members


async def member_user_ids_of_servers_of(
    *, session: Reader, user_ids: Collection[int]
) -> dict[int, list[int]]:
    """The member user ids of every server these users belong to, in one query."""
    if not user_ids:
        return {}
    if len(user_ids) == 1:
        (only,) = user_ids
        result = await session.execute(_MEMBER_IDS_OF_SERVERS_OF_ONE, {"user_id": only})
    else:
        result = await session.execute(_MEMBER_IDS_OF_SERVERS_OF, {"user_ids": list(user_ids)})
    members: dict[int, list[int]] = {}
    for server_id, member_id in result:
        members.setdefault(server_id, []).append(member_id)
    return members
