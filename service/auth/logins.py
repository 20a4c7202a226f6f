"""Login sessions ("logins"): the store (the `sessions` table), the signed `connect.sid`
cookie, and the one function both REST and the Socket.IO handshake use to find the caller.

"Session" alone means a database session (`AsyncSession`) everywhere in service/; what a
user signs in to is a login, named by its `login_id` (the cookie's value, unsigned).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote

from itsdangerous import BadSignature, Signer
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.db.engine import Reader, reading
from service.db.tables import SessionRow, UserRow, core_table
from service.db.timestamps import utcnow

SESSION_COOKIE_NAME = "connect.sid"
LOGIN_ID_BYTES = 32

# Rolling expiry writes at most once per this interval per session (or per tenth of
# the TTL when that is shorter), not on every request.
MAX_REFRESH_INTERVAL = timedelta(minutes=5)

_SIGNER_SALT = "zizany.session-cookie"
_LOGIN_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: who, and through which login."""

    user_id: int
    username: str
    login_id: str
    # When the session lapses unless used again; lets REST refresh the cookie's Max-Age.
    expires_at: datetime | None = None


def new_login_id() -> str:
    """A fresh random login id (256 bits, URL-safe)."""
    return secrets.token_urlsafe(LOGIN_ID_BYTES)


def _storage_key(login_id: str) -> str:
    """The sessions-table key for a login id: its SHA-256, so a leaked table is no login."""
    return hashlib.sha256(login_id.encode("ascii")).hexdigest()


def _refresh_interval(ttl: timedelta) -> timedelta:
    """How long after the last extension a request extends the session again."""
    return min(MAX_REFRESH_INTERVAL, ttl / 10)


async def start_login(
    *, session: AsyncSession, user_id: int, ttl: timedelta, now: datetime | None = None
) -> str:
    """Start a login for the user and return its new id (never reuses an existing one)."""
    if ttl <= timedelta(0):
        raise ValueError(f"session ttl must be positive, got {ttl!r}")
    created_at = now or utcnow()
    login_id = new_login_id()
    session.add(
        SessionRow(
            id=_storage_key(login_id),
            user_id=user_id,
            created_at=created_at,
            expires_at=created_at + ttl,
            ttl_seconds=max(1, round(ttl.total_seconds())),
        )
    )
    await session.flush()
    return login_id


@dataclass(frozen=True, slots=True)
class LiveLogin:
    """A login that resolved: whose it is and when it lapses unless used again."""

    user_id: int
    username: str
    expires_at: datetime


_sessions = core_table(SessionRow)
_users = core_table(UserRow)
# Built once: the lookup runs on every handshake and REST call, and a prebuilt Core
# statement costs half of an ORM query that loads two entities (service.db.memberships).
_FIND_LOGIN = (
    select(_sessions.c.expires_at, _sessions.c.ttl_seconds, _users.c.id, _users.c.username)
    .select_from(_sessions.join(_users, _users.c.id == _sessions.c.user_id))
    .where(_sessions.c.id == bindparam("key"))
)
_EXTEND_LOGIN = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("key"))
    .values(expires_at=bindparam("expires_at"))
)
_DROP_LOGIN = delete(_sessions).where(_sessions.c.id == bindparam("key"))


async def resolve_login(
    *, session: AsyncSession, login_id: str, now: datetime | None = None
) -> LiveLogin | None:
    """The live login of this id, or None (an expired one is deleted). The caller commits."""
    resolved, _wrote = await _resolve(session, login_id, now or utcnow())
    return resolved


async def _resolve(session: Reader, login_id: str, at: datetime) -> tuple[LiveLogin | None, bool]:
    """`resolve_login`'s answer, and whether it wrote anything to commit."""
    # Rolling expiry: extend by the session's TTL once the last extension is older than
    # the refresh interval (not on every request).
    if not _LOGIN_ID_SHAPE.fullmatch(login_id):
        return None, False
    key = _storage_key(login_id)
    row = (await session.execute(_FIND_LOGIN, {"key": key})).one_or_none()
    if row is None:
        return None, False
    expires_at, ttl_seconds, user_id, username = row
    if expires_at <= at:
        await session.execute(_DROP_LOGIN, {"key": key})
        return None, True
    ttl = timedelta(seconds=ttl_seconds)
    if at - (expires_at - ttl) < _refresh_interval(ttl):
        return LiveLogin(user_id, username, expires_at), False
    await session.execute(_EXTEND_LOGIN, {"key": key, "expires_at": at + ttl})
    return LiveLogin(user_id, username, at + ttl), True


async def end_login(*, session: AsyncSession, login_id: str) -> bool:
    """End a login (logout); True when it existed."""
    result = await session.scalars(
        delete(SessionRow)
        .where(col(SessionRow.id) == _storage_key(login_id))
        .returning(col(SessionRow.id))
    )
    return result.one_or_none() is not None


async def end_user_logins(*, session: AsyncSession, user_id: int) -> int:
    """End every session of a user (e.g. after a password change); returns how many."""
    result = await session.scalars(
        delete(SessionRow).where(col(SessionRow.user_id) == user_id).returning(col(SessionRow.id))
    )
    return len(result.all())


async def purge_expired_logins(*, session: AsyncSession, now: datetime | None = None) -> int:
    """Delete sessions past their expiry; returns how many (housekeeping)."""
    at = now or utcnow()
    result = await session.scalars(
        delete(SessionRow).where(col(SessionRow.expires_at) <= at).returning(col(SessionRow.id))
    )
    return len(result.all())


def _signer(secret: str) -> Signer:
    """The cookie signer (HMAC-SHA256, salted for this purpose only)."""
    return Signer(secret, salt=_SIGNER_SALT, digest_method=hashlib.sha256)


def sign_login_id(secret: str, login_id: str) -> str:
    """The `connect.sid` cookie value for a login id."""
    return _signer(secret).sign(login_id).decode("ascii")


def unsign_login_id(secret: str, value: str) -> str | None:
    """The login id in a cookie value, or None when the signature does not verify."""
    try:
        login_id = _signer(secret).unsign(value).decode("ascii")
    except (BadSignature, UnicodeError):
        return None
    return login_id if _LOGIN_ID_SHAPE.fullmatch(login_id) else None


def cookie_values(cookie_header: str | None, name: str = SESSION_COOKIE_NAME) -> list[str]:
    """Every value of the named cookie in a raw `Cookie` header, in header order."""
    # Hand-rolled: http.cookies gives up on the whole header at the first cookie it
    # dislikes, which would let an unrelated cookie log the user out.
    if not cookie_header:
        return []
    values = []
    for part in cookie_header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values.append(unquote(value))
    return values


async def principal_from_cookie_header(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    secret: str,
    cookie_header: str | None,
    now: datetime | None = None,
) -> Principal | None:
    """The caller behind a raw `Cookie` header, or None: parse, unsign, resolve.

    Commits only when the lookup wrote (a rolling-expiry extension, at most once per
    refresh interval, or an expired login's deletion): most lookups are one read.
    """
    candidates = [
        login_id
        for value in cookie_values(cookie_header)
        if (login_id := unsign_login_id(secret, value)) is not None
    ]
    if not candidates:
        return None
    at = now or utcnow()
    wrote = False
    principal: Principal | None = None
    async with reading(sessionmaker) as session:
        # Browsers may send several cookies of one name (different paths); the first
        # that names a live session wins.
        for login_id in candidates:
            resolved, changed = await _resolve(session, login_id, at)
            wrote = wrote or changed
            if resolved is not None:
                principal = Principal(
                    user_id=resolved.user_id,
                    username=resolved.username,
                    login_id=login_id,
                    expires_at=resolved.expires_at,
                )
                break
        if wrote:
            await session.commit()
    return principal
