"""`zizany serve` as a real process on a free loopback port, for the hostile-client tests.

Started exactly as the product starts it (`python -m service.cli serve`: the same
`service.workers` uvicorn config, so the read deadline and the connection cap apply),
with its log captured to a file the tests count lines in, and its memory readable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.live import free_port

PASSWORD = "correct horse battery"


class ServerProcess:
    """A running `zizany serve`; `log_lines()` and `rss_kib()` read it from outside."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"
        self.log_path = data_dir / "server.log"
        self._log = self.log_path.open("wb")
        full_env = {
            **os.environ,
            "ZIZANY_DATA_DIR": str(data_dir),
            "ZIZANY_SECRET_KEY": "hostile-" + "k" * 40,
            "ZIZANY_ARGON2_TIME_COST": "1",
            "ZIZANY_ARGON2_MEMORY_COST": "1024",
            "ZIZANY_LOG_LEVEL": "INFO",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                status = self.process.returncode
                raise RuntimeError(
                    f"server exited with status {status}: {self.log_path.read_text()}"
                )
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 240 s")

    def log_lines(self) -> list[str]:
        """Every line the process has logged so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace").splitlines()

    def rss_kib(self) -> int:
        """The process's resident memory, in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def open_connections(self) -> int:
        """TCP connections the server process holds on its port (from /proc)."""
        count = 0
        inodes = set()
        fd_dir = Path(f"/proc/{self.process.pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        hex_port = f"{self.port:04X}"
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if local.endswith(":" + hex_port) and state != "0A" and inode in inodes:
                count += 1
        return count

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextmanager
def running(data_dir: Path, **env: Any) -> Iterator[ServerProcess]:
    """A started server process for the block (env: ZIZANY_* overrides, upper-cased)."""
    server = ServerProcess(data_dir, {f"ZIZANY_{k.upper()}": str(v) for k, v in env.items()})
    try:
        yield server
    finally:
        server.stop()


def signup(url: str, name: str) -> str:
    """A new account's session cookie value."""
    response = httpx.post(
        url + "/api/auth/signup",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.cookies["connect.sid"]


def create_public_server(url: str, cookie: str, name: str = "hostile") -> int:
    """A public server owned by the cookie's user; its id."""
    response = httpx.post(
        url + "/api/servers",
        json={"name": name, "is_public": True},
        cookies={"connect.sid": cookie},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    server_id: int = response.json()["server"]["id"]
    return server_id


def join_server(url: str, cookie: str, server_id: int) -> None:
    response = httpx.post(
        f"{url}/api/servers/{server_id}/join", cookies={"connect.sid": cookie}, timeout=10
    )
    assert response.status_code == 201, response.text
