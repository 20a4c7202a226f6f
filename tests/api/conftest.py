"""A live Zizany app per database backend (SQLite and PostgreSQL), and clients for it.

Each backend gets one app for the whole test session: SQLite through the embedded
default (the app migrates its data directory at start), PostgreSQL in a database made
for this run and dropped after it. Tests keep to their own users and servers, so they
share the app without interfering. Tests that need other settings start their own app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.db.migrate import upgrade_url
from service.settings import Settings
from tests.api.recorder import RecordingNotifier
from tests.api.support import Api, World, build_world
from tests.conftest import need
from tests.db.conftest import (
    create_postgres_database,
    drop_postgres_database,
    postgres_url,
    run_in_fresh_loop,
)
from tests.live import LiveServer

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# Cheap argon2id so hundreds of signups stay fast (the service logs that it is weak).
FAST_HASHING: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_cost": 1024}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Test settings: a data directory, fast hashing, limits no shared test reaches."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        **FAST_HASHING,
        "login_max_failures": 1000,
        "message_rate_limit": 100_000,
        "strict_emits": True,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Deployment:
    """A running app: its URL, its settings and what it told the real-time side."""

    live: LiveServer
    settings: Settings
    notifier: RecordingNotifier
    backend: str

    @property
    def url(self) -> str:
        """The base URL (http://127.0.0.1:PORT)."""
        return self.live.url


def new_postgres_database() -> str:
    """A fresh, migrated PostgreSQL database for this run (skip locally if unreachable)."""
    try:
        name = create_postgres_database()
    except Exception as exc:  # OSError, TimeoutError or one of asyncpg's own
        need(False, f"PostgreSQL unreachable: {exc!r}")
        raise
    run_in_fresh_loop(upgrade_url(postgres_url(name)))
    return name


@pytest.fixture(scope="session", params=BACKENDS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One live app per backend for the session."""
    backend = str(request.param)
    data_dir = tmp_path_factory.mktemp(f"api-{backend}")
    database: str | None = None
    if backend == "postgres":
        database = new_postgres_database()
        settings = make_settings(data_dir, database_url=postgres_url(database))
    else:
        settings = make_settings(data_dir)
    notifier = RecordingNotifier()
    live = LiveServer(create_app(settings, notifier=notifier)).start()
    try:
        yield Deployment(live=live, settings=settings, notifier=notifier, backend=backend)
    finally:
        live.stop()
        if database is not None:
            drop_postgres_database(database)


@pytest.fixture
async def api(deployment: Deployment) -> AsyncIterator[Api]:
    """Clients for the backend's live app."""
    clients = Api(deployment.url)
    try:
        yield clients
    finally:
        await clients.aclose()


@pytest.fixture
async def world(api: Api) -> World:
    """A fresh owner/admin/member/outsider world with a public and a private server."""
    return await build_world(api)
