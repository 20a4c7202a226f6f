"""Queries on invites; accepting one never exceeds `max_uses`, even concurrently."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.db._inserts import insert_unless_conflict, inserted
from service.db.memberships import get_membership
from service.db.tables import InviteRow, MembershipRow
from service.db.timestamps import utcnow
from service.errors import AlreadyMember, InviteExpired, InviteNotFound

# 16 random bytes: 128 bits, twice the contract's minimum, 22 URL-safe characters.
INVITE_CODE_BYTES = 16


def new_invite_code() -> str:
    """A fresh unguessable, URL-safe invite code."""
    return secrets.token_urlsafe(INVITE_CODE_BYTES)


async def create_invite(
    *,
    session: AsyncSession,
    server_id: int,
    created_by: int | None,
    expires_in: timedelta | None = None,
    max_uses: int | None = None,
    now: datetime | None = None,
) -> InviteRow:
    """Create an invite to a server, optionally expiring after `expires_in` or `max_uses` uses."""
    if max_uses is not None and max_uses < 1:
        raise ValueError(f"max_uses must be at least 1, got {max_uses!r}")
    created_at = now or utcnow()
    return await inserted(
        session,
        InviteRow(
            code=new_invite_code(),
            server_id=server_id,
            created_by=created_by,
            expires_at=created_at + expires_in if expires_in is not None else None,
            max_uses=max_uses,
            uses=0,
            created_at=created_at,
        ),
    )


def _no_invite_has(code: str) -> bool:
    """Codes are URL-safe: one with U+0000 is no invite's (and PostgreSQL refuses to
    compare it), so it is answered as missing without a query."""
    return "\x00" in code


async def get_invite(*, session: AsyncSession, code: str) -> InviteRow | None:
    """The invite with this code, or None."""
    if _no_invite_has(code):
        return None
    return await session.get(InviteRow, code)


async def list_invites(*, session: AsyncSession, server_id: int) -> list[InviteRow]:
    """The server's invites, oldest first."""
    result = await session.scalars(
        select(InviteRow)
        .where(col(InviteRow.server_id) == server_id)
        .order_by(col(InviteRow.created_at), col(InviteRow.code))
    )
    return list(result.all())


async def delete_invite(*, session: AsyncSession, code: str) -> bool:
    """Revoke an invite; True when it existed."""
    if _no_invite_has(code):
        return False
    result = await session.scalars(
        delete(InviteRow).where(col(InviteRow.code) == code).returning(col(InviteRow.code))
    )
    return result.one_or_none() is not None


async def accept_invite(
    *,
    session: AsyncSession,
    code: str,
    user_id: int,
    server_id: int | None = None,
    now: datetime | None = None,
) -> MembershipRow:
    """Count a use and add the membership; raises InviteNotFound/AlreadyMember/InviteExpired."""
    # With server_id the code must belong to that server (POST /servers/{id}/join).
    at = now or utcnow()
    invite = None if _no_invite_has(code) else await session.get(InviteRow, code)
    if invite is None or (server_id is not None and invite.server_id != server_id):
        raise InviteNotFound(code)
    if await get_membership(session=session, server_id=invite.server_id, user_id=user_id):
        raise AlreadyMember(invite.server_id)
    # The conditions live in the UPDATE itself: on PostgreSQL concurrent accepts queue on
    # the row lock and re-check them against the committed count, so uses <= max_uses.
    counted = await session.scalars(
        update(InviteRow)
        .where(
            col(InviteRow.code) == code,
            or_(col(InviteRow.max_uses).is_(None), col(InviteRow.uses) < col(InviteRow.max_uses)),
            or_(col(InviteRow.expires_at).is_(None), col(InviteRow.expires_at) > at),
        )
        .values(uses=col(InviteRow.uses) + 1)
        .returning(InviteRow)
        .execution_options(populate_existing=True)
    )
    if counted.one_or_none() is None:
        raise InviteExpired(code)
    membership = await insert_unless_conflict(
        session=session,
        row=MembershipRow(user_id=user_id, server_id=invite.server_id, role="member", joined_at=at),
        conflict_columns=["user_id", "server_id"],
    )
    if membership is None:
        # A concurrent join won; give the use back in case the caller still commits.
        await session.execute(
            update(InviteRow)
            .where(col(InviteRow.code) == code)
            .values(uses=col(InviteRow.uses) - 1)
            .execution_options(synchronize_session="fetch")
        )
        raise AlreadyMember(invite.server_id)
    return membership
