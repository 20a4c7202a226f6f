"""Fixtures every test may use: the anyio backend. Shared helpers are in tests/support/."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the server's loop too)."""
    return "asyncio"
