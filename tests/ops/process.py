"""`zizany serve` as an operator runs it: a child process on a free port, its output kept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

from tests.support.live import free_port

START_TIMEOUT_SECONDS = 60.0


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment without any ZIZANY_*/PROMETHEUS_* or Python path settings, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ZIZANY_", "PROMETHEUS_", "PYTHON", "VIRTUAL_ENV"))
    }
    # Fast password hashing: the tests sign up several users.
    env.update(
        {"ZIZANY_ARGON2_TIME_COST": "1", "ZIZANY_ARGON2_MEMORY_COST": "1024"},
    )
    env.update(extra)
    return env


class ServerProcess:
    """A running `zizany serve`; `output()` is everything it wrote (stdout and stderr)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        """What the server wrote so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_healthy(self) -> None:
        """Until GET /api/health answers 200 (fails with the server's output otherwise)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the server exited with {self.process.returncode}:\n{self.output()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"the server did not become healthy:\n{self.output()}")

    def stop(self) -> int:
        """SIGTERM (a graceful shutdown) and the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def running(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    port: int | None = None,
    healthy: bool = True,
) -> Iterator[ServerProcess]:
    """Start `command --port PORT` in `cwd`; stop it when the block ends."""
    port = port or free_port()
    log = cwd.with_name(f"{cwd.name}-output.log")  # beside the folder, which stays as it was
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, port, log)
    try:
        if healthy:
            server.wait_healthy()
        yield server
    finally:
        server.stop()
