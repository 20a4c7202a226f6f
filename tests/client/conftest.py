"""Fixtures of the client tests: the mock server live, and the real Socket.IO world of
tests/realtime to compare it with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from service.mock.app import create_mock_app
from service.settings import Settings
from tests.support.live import LiveServer, serve_built

# The real server and its seeded world, shared with tests/realtime (imported = registered).
from tests.support.seeded import live_world, settings, world
from tests.support.typescript import compiled_example

__all__ = ["compiled_example", "live_world", "mock", "settings", "world"]


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[LiveServer]:
    """`zizany mock`'s app on a free port; browsers may come only from its own origin."""

    def build(origin: str) -> ASGIApp:
        return create_mock_app(Settings(data_dir=tmp_path, allowed_origins=[origin]))

    with serve_built(build) as live:
        yield live
