"""Servers for the operating tests: `zizany serve` in a child process, as an operator runs it."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.ops.process import ServerProcess, clean_env, running

METRICS_TOKEN = "scrape-" + "t" * 32


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """JSON logs and metrics on (behind a token), one process on SQLite."""
    folder = tmp_path_factory.mktemp("observed")
    env = clean_env(
        {
            "ZIZANY_LOG_FORMAT": "json",
            "ZIZANY_METRICS": "true",
            "ZIZANY_METRICS_TOKEN": METRICS_TOKEN,
        }
    )
    with running([sys.executable, "-m", "service.cli", "serve"], cwd=folder, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Every operating setting at its default (text logs, no metrics)."""
    folder = tmp_path_factory.mktemp("plain")
    env = clean_env({})
    with running([sys.executable, "-m", "service.cli", "serve"], cwd=folder, env=env) as server:
        yield server
