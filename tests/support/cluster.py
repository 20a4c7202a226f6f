"""Real Zizany server processes for the scale-out tests, sharing PostgreSQL and Redis.

Each `Node` is a separate OS process (`python -m tests.support.launcher PORT`) with its
own port and instance id; a `Cluster` gives them one fresh PostgreSQL database, one Redis
key prefix and one secret key, and removes all three at the end. `People` and `Sockets`
are HTTP and Socket.IO clients of its nodes; `sockets_per_worker`, `worker_pid` and
`spread` look inside a node that runs several workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis as sync_redis

from service.db.migrate import upgrade_url
from tests.support.clients import PASSWORD, Api, Person, RecordingClient, expect, join
from tests.support.live import free_port
from tests.support.paths import ROOT
from tests.support.services import (
    REDIS_URL,
    create_postgres_database,
    delete_redis_prefix,
    drop_postgres_database,
    need,
    new_prefix,
    postgres_url,
    redis_available,
    run_in_fresh_loop,
)

START_TIMEOUT_SECONDS = 60.0

# Quick presence refreshes and sweeps (the default timing is tested in test_sigkill); the
# lease stays long enough that a loaded machine does not let a live lease lapse.
FAST_PRESENCE = {
    "ZIZANY_PRESENCE_LEASE_SECONDS": "6",
    "ZIZANY_PRESENCE_REFRESH_SECONDS": "1",
    "ZIZANY_PRESENCE_SWEEP_SECONDS": "1",
}


@dataclass
class Node:
    """One server process: started, killed, restarted under the same identity."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    workers: int = 1
    process: subprocess.Popen[bytes] | None = None
    _log: Any = None

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Node:
        """Start the process (returns at once; see `wait_ready`)."""
        self._log = self.log_path.open("ab")
        command = [sys.executable, "-m", "tests.support.launcher", str(self.port)]
        if self.workers > 1:
            command.append(str(self.workers))
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> Node:
        """Wait until /api/health answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.log}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the process (and its workers): no goodbye of any kind."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._close_log()

    def stop(self) -> None:
        """SIGTERM (graceful), SIGKILL if it does not end in time."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def log(self) -> str:
        """Everything the process logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Cluster:
    """Processes sharing one database, one Redis prefix and one secret key."""

    database: str
    prefix: str
    env: dict[str, str]
    tmp: Path
    nodes: dict[str, Node] = field(default_factory=dict)

    def node(self, name: str, *, workers: int = 1, **env: str) -> Node:
        """A new process named `name` (its instance id), not started yet."""
        node = Node(
            name=name,
            port=free_port(),
            env={**self.env, "ZIZANY_INSTANCE_ID": name, **env},
            log_path=self.tmp / f"{name}.log",
            workers=workers,
        )
        self.nodes[name] = node
        return node

    def start(self, *names: str) -> list[Node]:
        """Start the named processes together; return them once all are ready."""
        nodes = [self.nodes.get(name) or self.node(name) for name in names]
        for node in nodes:
            node.start()
        return [node.wait_ready() for node in nodes]

    def stop_all(self) -> None:
        """Stop every process."""
        for node in self.nodes.values():
            node.stop()


JOINS_UNLIMITED = json.dumps(
    {name: {"limit": 100_000, "window_seconds": 10} for name in ("serverRoom", "channelRooms")}
)


@contextlib.contextmanager
def cluster(tmp: Path, **env: str) -> Iterator[Cluster]:
    """A database, a prefix, a secret; every process started in it is stopped at the end."""
    redis_available()
    try:
        database = create_postgres_database()
    except Exception as exc:  # OSError, TimeoutError or one of asyncpg's own
        need(False, f"PostgreSQL unreachable: {exc!r}")
        raise
    prefix = new_prefix()

    base_env = {key: value for key, value in os.environ.items() if not key.startswith("ZIZANY_")}
    base_env.update(
        {
            "PYTHONDONTWRITEBYTECODE": "1",
            "ZIZANY_DATABASE_URL": postgres_url(database),
            "ZIZANY_REDIS_URL": REDIS_URL,
            "ZIZANY_REDIS_PREFIX": prefix,
            "ZIZANY_SECRET_KEY": "scaleout-test-secret-" + "s" * 40,
            "ZIZANY_DATA_DIR": str(tmp / "data"),
            "ZIZANY_ARGON2_TIME_COST": "1",
            "ZIZANY_ARGON2_MEMORY_COST": "1024",
            "ZIZANY_STRICT_EMITS": "true",
            "ZIZANY_LOG_LEVEL": "INFO",
            # These tests join many sockets of one user to one server within seconds; the
            # spec's join limits are tested in tests/rules, not here.
            "ZIZANY_RATE_LIMITS": JOINS_UNLIMITED,
            **env,
        }
    )
    made = Cluster(database=database, prefix=prefix, env=base_env, tmp=tmp)
    try:
        run_in_fresh_loop(upgrade_url(postgres_url(database)))
        yield made
    finally:
        made.stop_all()
        with contextlib.suppress(Exception):
            drop_postgres_database(database)
        delete_redis_prefix(prefix)


@contextlib.contextmanager
def workers_cluster(tmp: Path, workers: int = 2, **env: str) -> Iterator[tuple[Cluster, Node]]:
    """One started `serve --workers N` (named `W`, as `spread` expects) in its own cluster."""
    with cluster(tmp, **{**FAST_PRESENCE, **env}) as made:
        node = made.node("W", workers=workers)
        made.start("W")
        yield made, node


class People(Api):
    """Signed-up people whose session cookie works on every process of the cluster."""

    def on(self, person: Person, node: Node) -> httpx.AsyncClient:
        """A client for `node` carrying the person's session cookie."""
        client = httpx.AsyncClient(
            base_url=node.url, timeout=30, cookies={"connect.sid": cookie(person)}
        )
        self._clients.append(client)
        return client

    def anonymous(self, node: Node) -> httpx.AsyncClient:
        """A client for `node` without a session."""
        client = httpx.AsyncClient(base_url=node.url, timeout=30)
        self._clients.append(client)
        return client

    async def login(self, person: Person, node: Node) -> httpx.AsyncClient:
        """A new session of the person (own cookie), signed in on `node`."""
        client = self.anonymous(node)
        expect(
            await client.post(
                "/api/auth/login", json={"email": person.email, "password": PASSWORD}
            ),
            200,
        )
        return client


def cookie(person: Person) -> str:
    """The person's session cookie value."""
    value = person.http.cookies["connect.sid"]
    assert value
    return str(value)


class Sockets:
    """Socket.IO clients connected to the cluster's processes; closed at the end."""

    def __init__(self) -> None:
        self.clients: list[RecordingClient] = []

    async def connect(self, node: Node, session_cookie: str) -> RecordingClient:
        """A WebSocket client of `node` signed in with the cookie."""
        client = RecordingClient()
        await client.connect(node.url, headers={"Cookie": f"connect.sid={session_cookie}"})
        self.clients.append(client)
        return client

    async def joined(
        self, node: Node, person: Person, server_id: int, channel_id: int | None = None
    ) -> RecordingClient:
        """A client of `node` signed in as `person`, in the server's (and channel's) room."""
        client = await self.connect(node, cookie(person))
        await join(client, server_id, channel_id)
        return client

    async def close(self) -> None:
        """Disconnect every client."""
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()


def sockets_per_worker(prefix: str) -> dict[str, int]:
    """Live leases per worker identity, read from Redis."""
    client = sync_redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return {
            key.split(":presence:process:", 1)[1]: int(client.scard(key))
            for key in client.scan_iter(match=f"{prefix}:presence:process:*")
        }
    finally:
        client.close()


def worker_pid(node: Node, index: int) -> int:
    """The pid of the node's current worker `index`, from the supervisor's log."""
    found = re.findall(rf"worker {index} started \(pid (\d+)\)", node.log)
    assert found, node.log
    return int(found[-1])


async def spread(
    made: Cluster, node: Node, sockets: Sockets, person: Person, server_id: int, channel_id: int
) -> list[RecordingClient]:
    """Connect until both workers hold sockets (the kernel picks the worker).

    Connections go in concurrent batches: one at a time, the kernel tends to wake the same
    idle worker for every accept, and a sequence of 40 has landed on one worker only.
    """

    async def one() -> RecordingClient:
        client = await sockets.connect(node, cookie(person))
        await join(client, server_id, channel_id)
        return client

    clients: list[RecordingClient] = []
    for _ in range(15):
        clients += await asyncio.gather(*(one() for _ in range(6)))
        counts = sockets_per_worker(made.prefix)
        if sorted(k for k, v in counts.items() if v) == ["W/w0", "W/w1"]:
            return clients
    raise AssertionError(f"the connections did not spread: {sockets_per_worker(made.prefix)}")
