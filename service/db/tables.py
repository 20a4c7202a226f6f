"""SQLModel tables. Rows never go on the wire: API layers build their own models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from service.db.timestamps import UTCDateTime, to_wire_timestamp, utcnow

__all__ = [
    "ROLES",
    "ChannelRow",
    "InviteRow",
    "MembershipRow",
    "MessageRow",
    "Role",
    "ServerRow",
    "SessionRow",
    "TableBase",
    "UserRow",
    "as_role",
    "metadata",
    "to_wire_timestamp",
    "utcnow",
]

Role = Literal["owner", "admin", "member"]
ROLES: tuple[Role, ...] = get_args(Role)

# Deterministic constraint names: migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Message ids may outgrow 32 bits; SQLite needs plain INTEGER for its rowid primary key.
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def core_table(model: Any) -> Table:
    """A table model's Core `Table`, for prebuilt statements on hot paths (no ORM)."""
    return cast(Table, model.__table__)


def _now() -> Any:
    """A UTC timestamp column that defaults to the moment the row is made."""
    return Field(default_factory=utcnow, sa_type=UTCDateTime)


def as_role(value: str) -> Role:
    """Narrow a stored role string to `Role`."""
    if value not in ROLES:
        raise ValueError(f"unknown role {value!r}")
    return value


class TableBase(SQLModel, registry=registry(metadata=metadata)):
    """Base of every Zizany table; keeps them out of the global SQLModel metadata."""


class UserRow(TableBase, table=True):
    """An account. `email` is stored lower-cased and is unique."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("email"),
        {"sqlite_autoincrement": True},
    )

    id: int = Field(default=None, primary_key=True)
    username: str
    email: str
    password_hash: str
    thumbnail: str | None = None
    created_at: datetime = _now()


class ServerRow(TableBase, table=True):
    """A community; `owner_id` mirrors the single `owner` membership."""

    __tablename__ = "servers"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int = Field(default=None, primary_key=True)
    name: str
    thumbnail: str | None = None
    banner: str | None = None
    is_public: bool = False
    owner_id: int = Field(foreign_key="users.id")
    created_at: datetime = _now()
    updated_at: datetime = _now()


class MembershipRow(TableBase, table=True):
    """A user's membership of a server, with its role."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "server_id"),
        CheckConstraint("role IN ('owner', 'admin', 'member')", name="role"),
        # A server's member ids in order, from the index alone (migration 0002).
        Index("ix_memberships_server_id_user_id", "server_id", "user_id"),
        # At most one owner per server, enforced by the database itself.
        Index(
            "ux_memberships_server_id_owner",
            "server_id",
            unique=True,
            sqlite_where=text("role = 'owner'"),
            postgresql_where=text("role = 'owner'"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    server_id: int = Field(foreign_key="servers.id", ondelete="CASCADE")
    role: str = "member"
    joined_at: datetime = _now()


class ChannelRow(TableBase, table=True):
    """A text channel; names are unique within a server."""

    __tablename__ = "channels"
    __table_args__ = (
        UniqueConstraint("server_id", "name"),
        {"sqlite_autoincrement": True},
    )

    id: int = Field(default=None, primary_key=True)
    server_id: int = Field(foreign_key="servers.id", ondelete="CASCADE")
    name: str
    created_at: datetime = _now()
    updated_at: datetime = _now()


class MessageRow(TableBase, table=True):
    """A chat message; history pages walk the `(channel_id, id)` index."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_channel_id_id", "channel_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int = Field(default=None, primary_key=True, sa_type=_BIG_ID)
    channel_id: int = Field(foreign_key="channels.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    content: str
    created_at: datetime = _now()
    updated_at: datetime = _now()


class InviteRow(TableBase, table=True):
    """An invite code to a server, optionally expiring and limited in uses."""

    __tablename__ = "invites"
    __table_args__ = (Index("ix_invites_server_id", "server_id"),)

    code: str = Field(primary_key=True)
    server_id: int = Field(foreign_key="servers.id", ondelete="CASCADE")
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    max_uses: int | None = None
    uses: int = 0
    created_at: datetime = _now()


class SessionRow(TableBase, table=True):
    """A login session. `id` is the SHA-256 of the token in the cookie, never the token."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user_id", "user_id"),)

    id: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    created_at: datetime = _now()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # The rolling window length chosen at login; expiry is extended by this much.
    ttl_seconds: int
