"""Shared fixtures: the anyio backend, and whether services must be present (CI=true)."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the server's loop too)."""
    return "asyncio"


def need(condition: bool, reason: str) -> None:
    """Skip when a local service or tool is missing; fail instead when CI=true."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)
