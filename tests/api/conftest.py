"""A live Zizany app per database backend (SQLite and PostgreSQL), and clients for it.

Each backend gets one app for the whole test session: SQLite through the embedded
default (the app migrates its data directory at start), PostgreSQL in a database made
for this run and dropped after it. Tests keep to their own users and servers, so they
share the app without interfering. Tests that need other settings start their own app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from service.app import create_app
from tests.support.clients import Api
from tests.support.deployment import Deployment, make_settings
from tests.support.live import LiveServer
from tests.support.notifier import RecordingNotifier
from tests.support.services import BACKENDS, database_overrides
from tests.support.world import World, build_world


@pytest.fixture(scope="session", params=BACKENDS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One live app per backend for the session."""
    backend = str(request.param)
    data_dir = tmp_path_factory.mktemp(f"api-{backend}")
    with database_overrides(backend) as overrides:
        settings = make_settings(data_dir, **overrides)
        notifier = RecordingNotifier()
        live = LiveServer(create_app(settings, notifier=notifier)).start()
        try:
            yield Deployment(live=live, settings=settings, notifier=notifier, backend=backend)
        finally:
            live.stop()


@pytest.fixture
async def api(deployment: Deployment) -> AsyncIterator[Api]:
    """Clients for the backend's live app."""
    async with Api(deployment.url) as clients:
        yield clients


@pytest.fixture
async def world(api: Api) -> World:
    """A fresh owner/admin/member/outsider world with a public and a private server."""
    return await build_world(api)
