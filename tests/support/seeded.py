"""A live Zizany (`create_app`, over a real SQLite file) and a world seeded straight into its
database: users with login cookies, servers with members, and Socket.IO clients for them.

The fixtures `settings`, `live_world` and `world` are registered by importing them into a
conftest.py (tests/realtime, tests/client and tests/docs do).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.app import create_app
from service.auth.logins import sign_login_id, start_login
from service.db import memberships
from service.db.engine import create_engine, session_factory
from service.db.tables import UserRow
from service.realtime.assembly import Realtime
from service.settings import Settings
from tests.support.clients import RecordingClient
from tests.support.factories import general_channel_id, make_server, make_user
from tests.support.live import LiveServer, serve

SECRET = "test-secret-" + "x" * 40


@dataclass
class User:
    id: int
    username: str
    cookie: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"connect.sid={self.cookie}"}


class World:
    """The live server plus a test-side DB connection to seed and inspect it."""

    def __init__(self, live: LiveServer, rt: Realtime, sessionmaker: Any) -> None:
        self.live = live
        self.rt = rt
        self.sessionmaker: async_sessionmaker[AsyncSession] = sessionmaker
        self.clients: list[RecordingClient] = []

    async def user(self, name: str) -> User:
        async with self.sessionmaker() as s:
            row = await make_user(s, name)
            sid = await start_login(session=s, user_id=row.id, ttl=timedelta(hours=1))
            await s.commit()
        return User(row.id, row.username, sign_login_id(SECRET, sid))

    async def server(self, owner: User, *members: User, public: bool = False) -> tuple[int, int]:
        """A (private) server (id) owned by `owner` with `members`, and its general channel."""
        async with self.sessionmaker() as s:
            owner_row = await s.get(UserRow, owner.id)
            assert owner_row is not None
            server = await make_server(s, owner_row, is_public=public)
            for m in members:
                await memberships.add_member(
                    session=s, server_id=server.id, user_id=m.id, role="member"
                )
            channel_id = await general_channel_id(s, server.id)
            await s.commit()
        return server.id, channel_id

    async def connect(self, user: User, transport: str = "websocket") -> RecordingClient:
        c = RecordingClient()
        await c.connect(self.live.url, headers=user.headers, transport=transport)
        self.clients.append(c)
        return c

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop (e.g. a broadcaster method, as REST's do)."""
        return self.live.call(coro)


def seeded_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings of the seeded app: short typing timeout, its own secret, one allowed origin."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "strict_emits": True,
        "typing_timeout_seconds": 0.6,
        "message_rate_limit": 1000,
        "message_rate_window_seconds": 10,
        "allowed_origins": ["http://localhost:3000"],
        "secret_key": SECRET,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return seeded_settings(tmp_path)


@pytest.fixture
def live_world(settings: Settings) -> Iterator[tuple[LiveServer, Realtime]]:
    """The whole app, as `zizany serve` runs it (its lifespan migrates the database)."""
    app = create_app(settings)
    assert app.realtime is not None
    with serve(app) as live:
        yield live, app.realtime


@pytest.fixture
async def world(
    live_world: tuple[LiveServer, Realtime], settings: Settings
) -> AsyncIterator[World]:
    engine: AsyncEngine = create_engine(settings)
    w = World(live_world[0], live_world[1], session_factory(engine))
    try:
        yield w
    finally:
        for c in w.clients:
            await c.close()
        await engine.dispose()
