"""The login store: start, resolve, expire, roll, end; and the cookie-to-principal path."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.auth.logins import (
    MAX_REFRESH_INTERVAL,
    Principal,
    end_login,
    end_user_logins,
    principal_from_cookie_header,
    purge_expired_logins,
    resolve_login,
    sign_login_id,
    start_login,
)
from service.db.tables import SessionRow, UserRow
from service.db.timestamps import utcnow
from tests.support.factories import make_user

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)
SECRET = "cookie-signing-secret-for-tests-0123456789"


async def test_every_login_gets_a_new_random_session_id_and_the_table_never_holds_it(
    session: AsyncSession,
) -> None:
    user = await make_user(session)

    ids = {await start_login(session=session, user_id=user.id, ttl=DAY) for _ in range(5)}

    assert len(ids) == 5
    assert all(len(login_id) >= 43 for login_id in ids)
    stored = set((await session.scalars(select(col(SessionRow.id)))).all())
    assert len(stored) == 5
    assert stored.isdisjoint(ids)


async def test_a_live_session_resolves_to_its_user(session: AsyncSession) -> None:
    user = await make_user(session, "sara")
    login_id = await start_login(session=session, user_id=user.id, ttl=DAY)

    resolved = await resolve_login(session=session, login_id=login_id)

    assert resolved is not None
    assert (resolved.user_id, resolved.username) == (user.id, "sara")
    assert await resolve_login(session=session, login_id="x" * 43) is None
    assert await resolve_login(session=session, login_id="not a token!") is None


async def test_an_expired_session_does_not_resolve_and_is_deleted(session: AsyncSession) -> None:
    user = await make_user(session)
    start = utcnow()
    login_id = await start_login(session=session, user_id=user.id, ttl=DAY, now=start)

    assert await resolve_login(session=session, login_id=login_id, now=start + DAY) is None
    assert (await session.scalars(select(SessionRow))).all() == []


async def test_expiry_rolls_forward_but_at_most_once_per_refresh_interval(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    start = utcnow()
    login_id = await start_login(session=session, user_id=user.id, ttl=DAY, now=start)

    soon = start + MAX_REFRESH_INTERVAL - timedelta(seconds=1)
    resolved = await resolve_login(session=session, login_id=login_id, now=soon)
    assert resolved is not None
    assert resolved.expires_at == start + DAY

    later = start + MAX_REFRESH_INTERVAL + timedelta(seconds=1)
    resolved = await resolve_login(session=session, login_id=login_id, now=later)
    assert resolved is not None
    assert resolved.expires_at == later + DAY

    # Past the original expiry, still alive because it was used.
    beyond = start + DAY + timedelta(minutes=1)
    assert await resolve_login(session=session, login_id=login_id, now=beyond) is not None


async def test_destroying_a_session_logs_it_out(session: AsyncSession) -> None:
    user = await make_user(session)
    keep = await start_login(session=session, user_id=user.id, ttl=DAY)
    drop = await start_login(session=session, user_id=user.id, ttl=DAY)

    assert await end_login(session=session, login_id=drop) is True
    assert await end_login(session=session, login_id=drop) is False
    assert await resolve_login(session=session, login_id=drop) is None
    assert await resolve_login(session=session, login_id=keep) is not None
    assert await end_user_logins(session=session, user_id=user.id) == 1
    assert await resolve_login(session=session, login_id=keep) is None


async def test_purging_removes_only_expired_sessions(session: AsyncSession) -> None:
    user = await make_user(session)
    start = utcnow()
    await start_login(session=session, user_id=user.id, ttl=timedelta(minutes=1), now=start)
    alive = await start_login(session=session, user_id=user.id, ttl=DAY, now=start)

    assert await purge_expired_logins(session=session, now=start + timedelta(minutes=2)) == 1
    assert await resolve_login(session=session, login_id=alive) is not None


async def test_a_signed_cookie_header_resolves_to_the_principal(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        user = await make_user(session, "sara")
        login_id = await start_login(session=session, user_id=user.id, ttl=DAY)
        await session.commit()
    cookie = f"theme=dark; connect.sid={sign_login_id(SECRET, login_id)}; other=1"

    principal = await principal_from_cookie_header(
        sessionmaker=sessionmaker, secret=SECRET, cookie_header=cookie
    )

    assert principal is not None
    assert principal == Principal(
        user_id=user.id, username="sara", login_id=login_id, expires_at=principal.expires_at
    )


async def test_a_tampered_foreign_or_missing_cookie_gives_no_principal(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        user = await make_user(session)
        login_id = await start_login(session=session, user_id=user.id, ttl=DAY)
        await session.commit()
    signed = sign_login_id(SECRET, login_id)
    value, signature = signed.rsplit(".", 1)
    tampered_value = ("A" if value[0] != "A" else "B") + value[1:] + "." + signature

    for header in (
        None,
        "",
        "theme=dark",
        f"connect.sid={login_id}",
        f"connect.sid={tampered_value}",
        f"connect.sid={sign_login_id('another-secret', login_id)}",
        "connect.sid=; ;=;garbage",
    ):
        principal = await principal_from_cookie_header(
            sessionmaker=sessionmaker, secret=SECRET, cookie_header=header
        )
        assert principal is None, header


async def test_a_logged_out_session_cookie_gives_no_principal_but_a_second_live_one_does(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        user = await make_user(session)
        old = await start_login(session=session, user_id=user.id, ttl=DAY)
        new = await start_login(session=session, user_id=user.id, ttl=DAY)
        await end_login(session=session, login_id=old)
        await session.commit()
    old_cookie = f"connect.sid={sign_login_id(SECRET, old)}"
    both = f"{old_cookie}; connect.sid={sign_login_id(SECRET, new)}"

    assert (
        await principal_from_cookie_header(
            sessionmaker=sessionmaker, secret=SECRET, cookie_header=old_cookie
        )
        is None
    )
    principal = await principal_from_cookie_header(
        sessionmaker=sessionmaker, secret=SECRET, cookie_header=both
    )
    assert principal is not None
    assert principal.login_id == new


async def test_resolving_through_the_cookie_persists_the_rolled_expiry(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    start = utcnow()
    _user, header = await _committed_login(sessionmaker, start)
    later = start + timedelta(hours=1)

    principal = await _lookup(sessionmaker, header, later)

    assert principal is not None
    assert principal.expires_at == later + DAY
    async with sessionmaker() as session:
        row = (await session.scalars(select(SessionRow))).one()
    assert row.expires_at == later + DAY


async def test_a_lookup_inside_the_refresh_interval_commits_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # The handshake and every REST call look the login up: a commit each would be a
    # write (and, on SQLite, a trip to the writer thread) per request for nothing.
    start = utcnow()
    user, header = await _committed_login(sessionmaker, start)
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    engine = sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "commit", committed)
    try:
        for minutes in (1, 2, 3):
            principal = await _lookup(sessionmaker, header, start + timedelta(minutes=minutes))
            assert principal is not None and principal.user_id == user.id
        assert commits == []
        rolled = await _lookup(
            sessionmaker, header, start + MAX_REFRESH_INTERVAL + timedelta(minutes=1)
        )
        assert rolled is not None
        assert len(commits) == 1
    finally:
        event.remove(engine, "commit", committed)


async def _committed_login(
    sessionmaker: async_sessionmaker[AsyncSession], start: datetime
) -> tuple[UserRow, str]:
    """A user with a login started (and committed) at `start`, and its cookie header."""
    async with sessionmaker() as session:
        user = await make_user(session)
        login_id = await start_login(session=session, user_id=user.id, ttl=DAY, now=start)
        await session.commit()
    return user, f"connect.sid={sign_login_id(SECRET, login_id)}"


async def _lookup(
    sessionmaker: async_sessionmaker[AsyncSession], header: str, at: datetime
) -> Principal | None:
    return await principal_from_cookie_header(
        sessionmaker=sessionmaker, secret=SECRET, cookie_header=header, now=at
    )
