"""What a socket's arrival costs the database: the login and its servers' members, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from service.db import sqlite_reads
from service.settings import Settings
from tests.support.seeded import World, seeded_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Presence updates sent as they happen (no coalescing interval), so that every one is
    # the connect's own (coalescing is tested in tests/rules).
    return seeded_settings(tmp_path, presence_interval_seconds=0)


async def test_a_connect_reads_the_login_and_all_its_servers_members_in_two_queries(
    world: World,
) -> None:
    # The handshake resolves the cookie (one read, no commit inside the refresh interval);
    # the user's first socket then announces presence in each of their servers from one
    # query for every member of those servers — not one query per server.
    owners = [await world.user(f"Owner{n}") for n in range(3)]
    omar = await world.user("Omar")
    servers = [(await world.server(owner, omar))[0] for owner in owners]
    watchers = []
    for owner, server_id in zip(owners, servers, strict=True):
        watcher = await world.connect(owner)
        await watcher.call("server:join", {"serverId": server_id})
        await watcher.wait_for("presence:update")
        watchers.append(watcher)

    async_engine = world.rt.announcer.sessionmaker.kw["bind"]
    engine = async_engine.sync_engine
    selects: list[str] = []
    commits: list[object] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    # SELECTs on a SQLite file skip SQLAlchemy (service.db.sqlite_reads): traced there.
    direct = sqlite_reads._SOURCES.get(async_engine)
    if direct is not None:
        direct.connection().set_trace_callback(lambda sql: executed(None, None, sql))
    try:
        await world.connect(omar)
        for watcher, server_id, owner in zip(watchers, servers, owners, strict=True):
            updates = await watcher.wait_for("presence:update", count=2)
            assert updates[-1] == {
                "serverId": server_id,
                "onlineUserIds": sorted([owner.id, omar.id]),
            }
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "commit", committed)
        if direct is not None:
            direct.connection().set_trace_callback(None)
    assert len(selects) == 2, selects
    assert commits == []
    for watcher in watchers:
        assert len(watcher.named("presence:update")) == 2
