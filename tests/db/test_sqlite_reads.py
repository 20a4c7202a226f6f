"""Direct SQLite reads (service.db.sqlite_reads): the same answers as SQLAlchemy, never stale.

Every hot read of the connect path is run both ways, through `reading()` and through an
ORM session, on both backends (PostgreSQL keeps SQLAlchemy's path, and must agree too).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.auth.logins import principal_from_cookie_header, sign_login_id, start_login
from service.db import memberships, sqlite_reads
from service.db.channels import ChannelAccess, get_channel_access
from service.db.engine import create_engine, reading, session_factory, writing
from service.db.migrate import upgrade_url
from service.db.sqlite_reads import Rows, Scalars, SqliteReads
from service.db.timestamps import utcnow
from service.settings import Settings
from tests.support.factories import general_channel_id, make_server, make_user

pytestmark = pytest.mark.anyio

SECRET = "test-secret-key-" + "x" * 32


async def test_sqlite_files_read_directly_and_postgresql_through_sqlalchemy(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], backend: str
) -> None:
    async with reading(sessionmaker) as reader:
        direct = isinstance(reader, SqliteReads)
    assert direct == (backend == "sqlite")


async def test_every_hot_read_answers_as_sqlalchemy_does(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    owner = await make_user(session)
    other = await make_user(session)
    server = await make_server(session, owner, is_public=True)
    await memberships.add_member(session=session, server_id=server.id, user_id=other.id)
    channel_id = await general_channel_id(session, server.id)
    await session.commit()

    async def both(read: object) -> tuple[object, object]:
        async with reading(sessionmaker) as reader:
            fast = await read(reader)  # type: ignore[operator]
        async with sessionmaker() as orm:
            slow = await read(orm)  # type: ignore[operator]
        return fast, slow

    reads = [
        lambda r: memberships.list_member_user_ids(session=r, server_id=server.id),
        lambda r: memberships.get_role(session=r, server_id=server.id, user_id=owner.id),
        lambda r: memberships.get_role(session=r, server_id=server.id, user_id=10**6),
        lambda r: memberships.member_user_ids_of_servers_of(session=r, user_ids={other.id}),
        # Two users: an expanding IN, which takes the pooled connection.
        lambda r: memberships.member_user_ids_of_servers_of(
            session=r, user_ids={owner.id, other.id}
        ),
        lambda r: get_channel_access(session=r, channel_id=channel_id, user_id=other.id),
        lambda r: get_channel_access(session=r, channel_id=channel_id, user_id=10**6),
        lambda r: get_channel_access(session=r, channel_id=10**6, user_id=other.id),
    ]
    for read in reads:
        fast, slow = await both(read)
        assert fast == slow
    access, _ = await both(
        lambda r: get_channel_access(session=r, channel_id=channel_id, user_id=other.id)
    )
    assert isinstance(access, ChannelAccess)
    # The processors ran: an aware timestamp and a real bool, as SQLAlchemy gives them.
    assert access.channel.created_at.tzinfo is not None
    assert access.server.is_public is True
    assert await both(
        lambda r: memberships.list_member_user_ids(session=r, server_id=server.id)
    ) == ([owner.id, other.id], [owner.id, other.id])


async def test_a_read_sees_what_was_committed_just_before(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    owner = await make_user(session)
    server = await make_server(session, owner)
    await session.commit()
    joined = []
    for _ in range(3):
        async with reading(sessionmaker) as reader:
            before = await memberships.list_member_user_ids(session=reader, server_id=server.id)
        user = await make_user(session)
        await memberships.add_member(session=session, server_id=server.id, user_id=user.id)
        await session.commit()
        joined.append(user.id)
        async with reading(sessionmaker) as reader:
            after = await memberships.list_member_user_ids(session=reader, server_id=server.id)
        # No snapshot kept from the read before: the new member is there at once.
        assert after == [*before, user.id]
    async with writing(engine) as connection:
        await connection.execute(
            text("DELETE FROM memberships WHERE user_id = :u"), {"u": joined[0]}
        )
    async with reading(sessionmaker) as reader:
        final = await memberships.list_member_user_ids(session=reader, server_id=server.id)
    assert final == [owner.id, *joined[1:]]


async def test_a_login_lookup_that_writes_commits_on_the_pooled_connection(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    user = await make_user(session)
    ttl = timedelta(days=10)
    started = utcnow() - timedelta(days=5)  # past the refresh interval: the lookup extends
    login_id = await start_login(session=session, user_id=user.id, ttl=ttl, now=started)
    await session.commit()
    cookie = f"connect.sid={sign_login_id(SECRET, login_id)}"

    first = await principal_from_cookie_header(
        sessionmaker=sessionmaker, secret=SECRET, cookie_header=cookie
    )
    second = await principal_from_cookie_header(
        sessionmaker=sessionmaker, secret=SECRET, cookie_header=cookie
    )
    assert first is not None and second is not None
    assert first.user_id == user.id
    assert first.expires_at is not None
    assert first.expires_at > started + ttl + timedelta(days=4)  # extended, and kept:
    assert second.expires_at == first.expires_at


async def test_a_block_that_does_not_commit_leaves_nothing(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    table = f"unread_marks_{uuid.uuid4().hex[:8]}"  # PostgreSQL's database lives on
    async with writing(engine) as connection:
        await connection.execute(text(f"CREATE TABLE {table} (n INTEGER)"))
    try:
        async with reading(sessionmaker) as reader:
            await reader.execute(text(f"INSERT INTO {table} VALUES (1)"))
        async with reading(sessionmaker) as reader:
            await reader.execute(text(f"INSERT INTO {table} VALUES (2)"))
            await reader.commit()
        async with engine.connect() as connection:
            kept = (await connection.execute(text(f"SELECT n FROM {table}"))).scalars().all()
    finally:
        async with writing(engine) as connection:
            await connection.execute(text(f"DROP TABLE {table}"))
    assert kept == [2]


async def test_the_read_connection_refuses_writes_and_closes_with_the_engine(
    tmp_path: Path,
) -> None:
    engine = create_engine(Settings(data_dir=tmp_path))
    await upgrade_url(str(engine.url))
    source = sqlite_reads._SOURCES[engine]
    async with reading(session_factory(engine)) as reader:
        assert isinstance(reader, SqliteReads)
        await memberships.list_member_user_ids(session=reader, server_id=1)
    connection = source.connection()
    with pytest.raises(Exception, match=r"readonly|read-only|query_only"):
        connection.execute("DELETE FROM memberships")
    await engine.dispose()
    assert not source._connection.is_open


def test_rows_and_scalars_answer_as_sqlalchemy_results_do() -> None:
    from sqlalchemy.exc import MultipleResultsFound, NoResultFound

    assert Rows([]).one_or_none() is None
    assert Rows([(1, 2)]).one() == (1, 2)
    assert Rows([(1,), (2,)]).scalars().all() == [1, 2]
    with pytest.raises(MultipleResultsFound):
        Rows([(1,), (2,)]).one_or_none()
    with pytest.raises(NoResultFound):
        Rows([]).one()
    assert Scalars([]).first() is None
    assert Scalars([3]).one() == 3
    with pytest.raises(MultipleResultsFound):
        Scalars([3, 4]).one()
    with pytest.raises(NoResultFound):
        Scalars([]).one()
