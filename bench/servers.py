"""The servers under test, as subprocesses on free ports of 127.0.0.1.

`ServerProc` starts one: Zizany (bench/zizany_server.py: uvicorn as `zizany serve` runs it,
or `zizany serve --workers N` with `workers`), the Node.js baseline (bench/node_server.mjs)
or the ceiling server (bench/ceiling_server.mjs). Its CPU time and resident memory are
read from /proc, summed over the process and its descendants (the workers of
`--workers N`). `ServerGroup` measures several as one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from bench.world import SECRET
from generated.realtime.limits import RATE_LIMITS

_COUNTERS = sorted({limit.counter for limit in RATE_LIMITS.values()} - {"messages"})

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile() -> None:
    """Raise the soft limit of open files to the hard one (thousands of sockets)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (from /proc/*/stat's parent pids)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds_of(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes, all threads."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def rss_bytes_of(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


def start_profiler(directory: Path, name: str, pid: int) -> subprocess.Popen[bytes]:
    """py-spy on a server process, collapsed stacks into `directory/name.txt`."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{name}.txt"
    return subprocess.Popen(
        [
            *("py-spy", "record", "--format", "raw", "-r", "250", "-o", str(out)),
            *("--nonblocking", "--pid", str(pid)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class ServerProc:
    """One server under test: Zizany (uvicorn), the Node baseline or the ceiling server."""

    def __init__(
        self,
        impl: str,
        backend: str,
        location: str,
        workdir: Path,
        extra_env: dict[str, str],
        workers: int | None = None,
    ) -> None:
        self.impl = impl
        self.backend = backend
        self.location = location
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            {
                "ZIZANY_SECRET_KEY": SECRET,
                "ZIZANY_MESSAGE_RATE_LIMIT": "100000000",
                # The bench measures delivery, not the spec's x-rate-limit defaults.
                "ZIZANY_RATE_LIMITS": json.dumps(
                    {c: {"limit": 100000000, "window_seconds": 10} for c in _COUNTERS}
                ),
                "ZIZANY_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(extra_env)
        cmd: list[str]
        if impl == "zizany":
            if backend == "sqlite":
                data = workdir / f"data-{self.port}"
                data.mkdir()
                shutil.copyfile(location, data / "zizany.db")
                self.location = str(data / "zizany.db")
                env["ZIZANY_DATA_DIR"] = str(data)
                env.pop("ZIZANY_DATABASE_URL", None)
            else:
                env["ZIZANY_DATABASE_URL"] = location
            cmd = [sys.executable, "-m", "bench.zizany_server", "--port", str(self.port)]
            if workers is not None:
                cmd += ["--workers", str(workers)]
        elif impl == "node":
            db = f"sqlite:{location}" if backend == "sqlite" else location
            cmd = ["node", str(BENCH / "node_server.mjs"), "--port", str(self.port), "--db", db]
        elif impl == "ceiling":
            cmd = ["node", str(BENCH / "ceiling_server.mjs"), "--port", str(self.port)]
        else:
            raise ValueError(f"no server named {impl!r}")
        self.profiler: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{impl}-{backend}-{self.port}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile,
        )
        self._tree: list[int] = [self.proc.pid]

    @property
    def stores(self) -> bool:
        """Whether it writes messages to a database (the ceiling server does not)."""
        return self.impl != "ceiling"

    async def ready(self, wait_s: float = 180) -> None:
        # Generous: on a busy machine importing the app alone takes tens of seconds, and a
        # supervisor imports it, then each spawned worker again.
        deadline = time.monotonic() + wait_s
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.impl} exited with {self.proc.returncode}: "
                        + self.log_path.read_text(errors="replace")[-2000:]
                    )
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(f"{self.url}/socket.io/?EIO=4&transport=polling") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.2)
            else:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.impl} did not start: {tail}")
        if self.workers and self.workers > 1:
            # The supervisor spawns the workers (one process serves `--workers 1` itself);
            # every worker accepts on the shared socket: wait until all of them are up.
            while time.monotonic() < deadline:
                self._tree = process_tree(self.proc.pid)
                if len(self._tree) > self.workers:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(2.0)  # the workers build their apps after spawning
            self._tree = process_tree(self.proc.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds_of(self._tree)

    async def quiesce(self, busy: float = 0.15, wait_s: float = 90) -> float:
        """Wait until the server is idle (under `busy` of a core over half a second), e.g.
        after a scenario's sockets closed and it announces their presence; seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < wait_s:
            cpu0 = self.cpu_seconds()
            await asyncio.sleep(0.5)
            if self.cpu_seconds() - cpu0 < busy * 0.5:
                break
        return time.monotonic() - start

    def rss_bytes(self) -> int:
        return rss_bytes_of(self._tree)

    def stop(self) -> None:
        if self.profiler is not None:
            self.profiler.send_signal(2)  # py-spy writes its output on SIGINT
            self.profiler.wait(60)
        self.proc.terminate()
        try:
            self.proc.wait(40 if self.workers else 10)
        except subprocess.TimeoutExpired:
            for pid in process_tree(self.proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
            self.proc.wait()
        self.log.close()


class ServerGroup:
    """Several server processes measured as one (their CPU time summed)."""

    def __init__(self, servers: Sequence[ServerProc]) -> None:
        self.servers = list(servers)

    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)

    def rss_bytes(self) -> int:
        return sum(s.rss_bytes() for s in self.servers)


Measured = ServerProc | ServerGroup
