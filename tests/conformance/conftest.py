"""A live Zizany server for the conformance tests (REST and Socket.IO over a fresh SQLite file)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import ASYNCAPI_PATH, OPENAPI_PATH
from conformance.rest import RestSpec, load_rest_spec
from conformance.spec import Contract, load_contract
from conformance.target import LocalTarget
from tests.support.live import running


@pytest.fixture
def quiet_server_logs() -> Iterator[None]:
    """Servers broken on purpose log what they break; the tests read the runner's report."""
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@pytest.fixture(scope="session")
def contract() -> Contract:
    """spec/asyncapi.yaml, as the runner reads it."""
    return load_contract(ASYNCAPI_PATH)


@pytest.fixture(scope="session")
def rest_spec() -> RestSpec:
    """spec/openapi.yaml, as the runner reads it."""
    return load_rest_spec(OPENAPI_PATH)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    """The real server, started for one test."""
    with running(LocalTarget(tmp_path)) as server:
        yield server
