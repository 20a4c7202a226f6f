"""One `zizany serve` process shared by the hostile-client tests (starting one is slow)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.process import ServerProcess, running

READ_TIMEOUT = 2.0


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The product as `zizany serve` runs it, with a short read deadline."""
    data_dir: Path = tmp_path_factory.mktemp("hostile")
    with running(
        data_dir,
        request_read_timeout_seconds=READ_TIMEOUT,
        keep_alive_timeout_seconds=2,
        max_connections=1000,
        login_max_failures=3,
    ) as live:
        yield live
