"""The `zizany` command: `db upgrade`, `demo` (idempotent, logins that work), `serve`."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.app import create_app
from service.cli import main
from service.db.migrate import current_revision, head_revision
from service.demo import DEMO_PASSWORD, DEMO_USERS
from service.settings import Settings
from tests.support.clients import expect
from tests.support.deployment import FAST_HASHING
from tests.support.live import serve
from tests.support.paths import ROOT


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ZIZANY_* variables for a fresh embedded data directory with fast hashing."""
    monkeypatch.delenv("ZIZANY_DATABASE_URL", raising=False)
    monkeypatch.setenv("ZIZANY_DATA_DIR", str(tmp_path))
    for name, value in FAST_HASHING.items():
        monkeypatch.setenv(f"ZIZANY_{name.upper()}", str(value))
    return tmp_path


def test_db_upgrade_migrates_the_embedded_database_to_head(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0
    url = f"sqlite+aiosqlite:///{environment}/zizany.db"
    assert asyncio.run(current_revision(url)) == head_revision()
    assert "up to date" in capsys.readouterr().out


def test_demo_loads_once_and_its_logins_work(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert "Loaded the demo data" in first
    assert DEMO_PASSWORD in first
    assert all(user.email in first for user in DEMO_USERS)
    assert main(["demo"]) == 0
    assert "already loaded" in capsys.readouterr().out
    settings = Settings(data_dir=environment, **FAST_HASHING)
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url) as client:
        body = {"email": DEMO_USERS[0].email, "password": DEMO_PASSWORD}
        expect(client.post("/api/auth/login", json=body), 200)
        servers = expect(client.get("/api/servers"), 200)["servers"]
        assert {s["name"] for s in servers} == {"Zizany fans", "Core team", "Open lounge"}
        fans = next(s for s in servers if s["name"] == "Zizany fans")
        channels = expect(client.get(f"/api/servers/{fans['id']}/channels"), 200)["channels"]
        history = expect(client.get(f"/api/channels/{channels[0]['id']}/messages"), 200)
        assert len(history["messages"]) >= 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_runs_the_app_on_the_given_port_and_migrates_at_start(environment: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "zizany serve did not start"
                time.sleep(0.2)
        assert response.json() == {"status": "ok", "database": "ok", "redis": "disabled"}
        assert (environment / "zizany.db").is_file()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        finally:
            if process.stderr is not None:
                process.stderr.close()
