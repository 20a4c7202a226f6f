"""A configured database that is not migrated: the server refuses to start and says what
to run; a schema that stops being current turns /api/health to 503 naming it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.db.migrate import head_revision
from tests.hostile.process import running

pytestmark = pytest.mark.timeout(300)


def test_the_server_refuses_to_start_on_an_unmigrated_database_and_names_the_fix(
    tmp_path: Path,
) -> None:
    database = tmp_path / "empty.db"
    sqlite3.connect(database).close()
    with (
        pytest.raises(RuntimeError) as failed,
        running(tmp_path, database_url=f"sqlite:///{database}"),
    ):
        pass
    log = str(failed.value)
    assert log.startswith("server exited with status 3")
    assert "no revision (never migrated)" in log
    assert f"needs {head_revision()}" in log
    assert "zizany db upgrade" in log


def test_health_answers_503_with_the_revision_when_the_schema_is_not_current(
    tmp_path: Path,
) -> None:
    database = tmp_path / "zizany.db"
    url = f"sqlite:///{database}"
    subprocess.run(
        [sys.executable, "-m", "service.cli", "db", "upgrade"],
        env={**os.environ, "ZIZANY_DATABASE_URL": url},
        check=True,
        timeout=120,
    )
    with running(tmp_path, database_url=url) as server:
        assert httpx.get(server.url + "/api/health", timeout=10).status_code == 200
        with sqlite3.connect(database) as db:
            db.execute("UPDATE alembic_version SET version_num = '0000'")
        health = httpx.get(server.url + "/api/health", timeout=10)
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "unavailable" and body["database"] == "unavailable"
        assert "revision 0000" in body["detail"] and "zizany db upgrade" in body["detail"]
