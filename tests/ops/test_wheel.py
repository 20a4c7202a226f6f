"""The built wheel runs anywhere: installed into a fresh venv, served from an empty folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.contract import SPEC_FILES, contract_versions
from tests.ops.process import ServerProcess, clean_env, running
from tests.support.clients import RecordingClient
from tests.support.paths import ROOT
from tests.support.services import need

pytestmark = pytest.mark.slow


def _uv() -> str | None:
    """uv from PATH (./dev puts .tools/bin there) or the project's .tools."""
    found = shutil.which("uv")
    if found is not None:
        return found
    local = ROOT / ".tools" / "bin" / "uv"
    return str(local) if local.is_file() else None


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `zizany` script of a venv outside the checkout with only the built wheel in it."""
    uv = _uv()
    need(uv is not None, "uv is needed to build and install the wheel (./dev installs it)")
    assert uv is not None
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    env = clean_env({})
    # The sdist first, then the wheel built from it: both are proven by this one wheel.
    subprocess.run(
        [uv, "build", "--out-dir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    (wheel,) = dist.glob("zizany-*.whl")
    venv = work / "venv"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run(
        [uv, "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    return venv / "bin" / "zizany"


@pytest.fixture(scope="module")
def server(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`zizany serve` from the wheel, started in an empty folder with no settings."""
    empty = tmp_path_factory.mktemp("empty")
    with running([str(installed), "serve"], cwd=empty, env=clean_env({})) as server:
        yield server


def test_the_installed_package_comes_from_the_venv_not_the_checkout(installed: Path) -> None:
    where = subprocess.run(
        [str(installed.with_name("python")), "-c", "import service; print(service.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=installed.parent,
        env=clean_env({}),
    ).stdout.strip()
    assert "site-packages" in where
    assert not where.startswith(str(ROOT))


def test_zizany_version_names_the_package_and_the_contract_version(installed: Path) -> None:
    shown = subprocess.run(
        [str(installed), "--version"], check=True, capture_output=True, text=True, env=clean_env({})
    ).stdout.strip()
    (contract,) = set(contract_versions().values())
    assert shown == f"zizany 0.1.0 (contract {contract})"


def test_the_wheel_server_answers_health_with_the_embedded_database(server: ServerProcess) -> None:
    health = httpx.get(f"{server.url}/api/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "redis": "disabled"}


@pytest.mark.parametrize("name", SPEC_FILES)
def test_the_wheel_server_serves_each_spec_byte_for_byte(server: ServerProcess, name: str) -> None:
    served = httpx.get(f"{server.url}/{name}")
    assert served.status_code == 200
    assert served.content == (ROOT / "spec" / name).read_bytes()


def test_the_wheel_server_serves_the_rendered_asyncapi_page(server: ServerProcess) -> None:
    page = httpx.get(f"{server.url}/docs/asyncapi")
    assert page.status_code == 200
    assert page.content == (ROOT / "service" / "static" / "asyncapi.html").read_bytes()


@pytest.mark.anyio
async def test_the_wheel_server_signs_up_and_answers_a_socket_round_trip(
    server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        signup = await http.post(
            "/api/auth/signup",
            json={"username": "Wheel", "email": "wheel@example.com", "password": "wheel-password"},
        )
        assert signup.status_code == 201, signup.text
        cookie = signup.cookies["connect.sid"]
        created = await http.post("/api/servers", json={"name": "From the wheel"})
        assert created.status_code == 201, created.text
        server_id = created.json()["server"]["id"]
    client = RecordingClient()
    try:
        await client.connect(server.url, headers={"Cookie": f"connect.sid={cookie}"})
        ack = await client.call("server:join", {"serverId": server_id})
        (joined,) = await client.wait_for("server:joined")
    finally:
        await client.close()
    assert ack == {"ok": True, "serverId": server_id}
    assert joined == {"serverId": server_id}


def test_the_wheel_server_created_its_data_in_the_folder_it_started_in(
    server: ServerProcess,
) -> None:
    cwd = Path(os.readlink(f"/proc/{server.process.pid}/cwd"))
    assert (cwd / "data" / "zizany.db").is_file()
