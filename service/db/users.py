"""Queries on users."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.db._inserts import insert_unless_conflict
from service.db.tables import UserRow
from service.errors import EmailTaken


def normalize_email(email: str) -> str:
    """The stored form of an email address: trimmed and lower-cased."""
    return email.strip().lower()


async def create_user(
    *,
    session: AsyncSession,
    username: str,
    email: str,
    password_hash: str,
    thumbnail: str | None = None,
) -> UserRow:
    """Insert a user; raises EmailTaken when the (lower-cased) email is registered."""
    stored_email = normalize_email(email)
    row = UserRow(
        username=username, email=stored_email, password_hash=password_hash, thumbnail=thumbnail
    )
    created = await insert_unless_conflict(session=session, row=row, conflict_columns=["email"])
    if created is None:
        raise EmailTaken(stored_email)
    return created


async def get_user(*, session: AsyncSession, user_id: int) -> UserRow | None:
    """The user with this id, or None."""
    return await session.get(UserRow, user_id)


async def get_user_by_email(*, session: AsyncSession, email: str) -> UserRow | None:
    """The user with this email (compared lower-cased), or None."""
    result = await session.scalars(
        select(UserRow).where(col(UserRow.email) == normalize_email(email))
    )
    return result.one_or_none()


async def set_password_hash(*, session: AsyncSession, user_id: int, password_hash: str) -> None:
    """Replace a user's password hash (after a rehash with stronger parameters)."""
    await session.execute(
        update(UserRow).where(col(UserRow.id) == user_id).values(password_hash=password_hash)
    )
