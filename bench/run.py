"""`nox -s bench` (`./dev bench [-- --quick]`): Zizany against a Node.js Socket.IO baseline.

Starts each server as a subprocess on a free port of 127.0.0.1 over a freshly seeded copy
of the same database, drives it with the load generator processes (bench/loadgen.py), reads
the server's CPU time and resident memory from /proc, checks that nothing was lost,
duplicated, reordered or stored twice, and writes bench/results/<timestamp>.json, a chart
(.png) and a markdown summary (printed, and beside the JSON as .md).

Scenarios: connections (ramp to N idle authenticated sockets in a server and a channel
room), fan-out (one sender, rooms of 10/100/1000 receivers; rate ladder until the
sender→last-receiver p99 passes 100 ms), message:create (100 channels of 10 members, every
member sending; ladder until p99 passes 200 ms) on SQLite and PostgreSQL, history (REST
pages on a channel of 1,000,000 messages; Zizany only), emit validation on/off, and
cluster (two Zizany processes on one PostgreSQL database and Redis: a sender on one, a
room of receivers on the other; Zizany only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert, text

from service.auth.sessions import sign_session_id
from service.db.engine import create_engine_for_url
from service.db.migrate import upgrade_url
from service.db.tables import ChannelRow, MembershipRow, ServerRow, SessionRow, UserRow

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "bench-secret-" + "k" * 40
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROFILE_DIR: Path | None = None

FANOUT_P99_LIMIT = 0.100
CREATE_P99_LIMIT = 0.200


# ---- parameters -----------------------------------------------------------------------------


@dataclass
class Params:
    """What one run does; `--quick` trims every ladder."""

    quick: bool
    room_sizes: list[int]
    fanout_rates: dict[int, list[float]]  # room size -> ladder, messages per second
    step_seconds: float
    create_rates: list[int]  # ladder, messages per second over the 100 channels
    create_channels: int = 100
    create_members: int = 10
    connections: list[int] = field(default_factory=list)
    history_rows: int = 100_000
    history_requests: int = 200
    validation_room: int = 100
    postgres: bool = True
    cluster_room: int = 100  # receivers on process B; the ladder is fan-out's room-of-100 one

    @classmethod
    def make(cls, quick: bool) -> Params:
        if quick:
            return cls(
                quick=True,
                room_sizes=[10, 100, 1000],
                fanout_rates={10: [100, 400], 100: [10, 40], 1000: [4, 8]},
                step_seconds=1.5,
                create_rates=[50, 200],
                create_channels=30,
                connections=[500],
                history_rows=100_000,
                history_requests=100,
                cluster_room=20,
            )
        return cls(
            quick=False,
            room_sizes=[10, 100, 1000],
            fanout_rates={
                10: [50, 100, 200, 300, 400, 600, 800, 1200, 1600],
                100: [5, 10, 20, 40, 60, 80, 120, 160, 240],
                1000: [1, 2, 4, 8, 12, 16, 24, 32],
            },
            step_seconds=4.0,
            create_rates=[50, 100, 200, 300, 400, 600, 800],
            connections=[1000, 5000],
            history_rows=1_000_000,
            history_requests=300,
        )


# ---- the seeded world -------------------------------------------------------------------------


@dataclass
class World:
    """Who is who in the seeded database (ids are assigned here, the same for both servers)."""

    cookies: dict[int, str] = field(default_factory=dict)
    fan_sender: int = 1
    fan_receivers: list[int] = field(default_factory=list)
    fan_channel: dict[int, int] = field(default_factory=dict)  # room size -> channel id
    create_members: dict[int, list[int]] = field(default_factory=dict)  # channel -> users
    conn_users: list[int] = field(default_factory=list)
    conn_server_of: dict[int, tuple[int, int]] = field(default_factory=dict)  # user -> ids
    history_channel: int = 0
    history_user: int = 1
    cluster_channel: int = 0


async def seed(url: str, params: Params) -> World:
    """Migrate `url` with Zizany's migrations and insert the bench's users, servers, rooms."""
    await upgrade_url(url)
    world = World()
    now = datetime.now(UTC)
    users: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    servers: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    next_user = 1
    next_server = 1
    next_channel = 1

    def new_user() -> int:
        nonlocal next_user
        uid = next_user
        next_user += 1
        users.append(
            {
                "id": uid,
                "username": f"u{uid}",
                "email": f"u{uid}@bench.invalid",
                "password_hash": "-",
                "created_at": now,
            }
        )
        token = secrets.token_urlsafe(32)
        # Expiry a little beyond now + TTL: no rolling refresh writes during the run.
        sessions.append(
            {
                "id": hashlib.sha256(token.encode()).hexdigest(),
                "user_id": uid,
                "created_at": now,
                "expires_at": now + timedelta(days=1, hours=2),
                "ttl_seconds": 86400,
            }
        )
        world.cookies[uid] = sign_session_id(SECRET, token)
        return uid

    def new_server(owner: int, member_ids: Sequence[int]) -> int:
        nonlocal next_server
        sid = next_server
        next_server += 1
        servers.append(
            {"id": sid, "name": f"s{sid}", "owner_id": owner, "created_at": now, "updated_at": now}
        )
        for uid in member_ids:
            role = "owner" if uid == owner else "member"
            members.append({"user_id": uid, "server_id": sid, "role": role, "joined_at": now})
        return sid

    def new_channel(server_id: int) -> int:
        nonlocal next_channel
        cid = next_channel
        next_channel += 1
        channels.append(
            {
                "id": cid,
                "server_id": server_id,
                "name": f"c{cid}",
                "created_at": now,
                "updated_at": now,
            }
        )
        return cid

    # Fan-out: one server, the sender and up to 1000 receivers; a channel per room size.
    world.fan_sender = new_user()
    world.fan_receivers = [new_user() for _ in range(max(params.room_sizes))]
    fan_server = new_server(world.fan_sender, [world.fan_sender, *world.fan_receivers])
    for size in params.room_sizes:
        world.fan_channel[size] = new_channel(fan_server)
    world.history_user = world.fan_sender
    world.history_channel = new_channel(fan_server)
    world.cluster_channel = new_channel(fan_server)  # two processes on Redis
    # message:create: servers of 100 members, 10 channels each, 10 members per channel room.
    per_server = 10
    for _ in range(params.create_channels // per_server):
        group = [new_user() for _ in range(per_server * params.create_members)]
        sid = new_server(group[0], group)
        for i in range(per_server):
            cid = new_channel(sid)
            world.create_members[cid] = group[
                i * params.create_members : (i + 1) * params.create_members
            ]
    # Connections: servers of 50 members with one channel each.
    total = max(params.connections, default=0)
    for start in range(0, total, 50):
        group = [new_user() for _ in range(min(50, total - start))]
        sid = new_server(group[0], group)
        cid = new_channel(sid)
        for uid in group:
            world.conn_server_of[uid] = (sid, cid)
        world.conn_users.extend(group)

    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as conn:
            tables: list[tuple[Any, list[dict[str, Any]]]] = [
                (UserRow, users),
                (SessionRow, sessions),
                (ServerRow, servers),
                (MembershipRow, members),
                (ChannelRow, channels),
            ]
            for model, rows in tables:
                for i in range(0, len(rows), 2000):
                    await conn.execute(insert(model.__table__), rows[i : i + 2000])
            # History: one bulk statement, not the API.
            stamp = now.replace(tzinfo=None) if url.startswith("sqlite") else now
            if url.startswith("sqlite"):
                sql = (
                    "WITH RECURSIVE n(x) AS "
                    "(SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :rows) "
                    "INSERT INTO messages (channel_id, user_id, content, created_at, updated_at) "
                    "SELECT :channel, :user, 'history message ' || x, :at, :at FROM n"
                )
            else:
                sql = (
                    "INSERT INTO messages (channel_id, user_id, content, created_at, updated_at) "
                    "SELECT :channel, :user, 'history message ' || x, :at, :at "
                    "FROM generate_series(1, :rows) AS x"
                )
            await conn.execute(
                text(sql),
                {
                    "rows": params.history_rows,
                    "channel": world.history_channel,
                    "user": world.history_user,
                    "at": stamp,
                },
            )
            if not url.startswith("sqlite"):
                # Explicit ids were inserted: move the sequences past them.
                for name in ("users", "servers", "channels"):
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
                await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return world


# ---- databases --------------------------------------------------------------------------------


class Databases:
    """A seeded template per backend; every server instance gets its own copy."""

    def __init__(self, workdir: Path, params: Params) -> None:
        self.workdir = workdir
        self.params = params
        self.tag = f"zb{os.getpid()}"
        self.sqlite_template = workdir / "template.db"
        self.pg_dbs: list[str] = []
        self.world: World | None = None
        self.pg_world: World | None = None

    async def prepare(self) -> World:
        self.world = await seed(f"sqlite+aiosqlite:///{self.sqlite_template}", self.params)
        con = sqlite3.connect(self.sqlite_template)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        if self.params.postgres:
            tpl = f"{self.tag}_tpl"
            await self._pg_admin(f'DROP DATABASE IF EXISTS "{tpl}"', f'CREATE DATABASE "{tpl}"')
            self.pg_dbs.append(tpl)
            self.pg_world = await seed(
                f"postgresql+asyncpg://postgres@127.0.0.1:5432/{tpl}", self.params
            )
        return self.world

    async def _pg_admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def copy(self, backend: str, name: str) -> tuple[str, World]:
        """A fresh database: (location, world). SQLite: a file path; PostgreSQL: a URL."""
        if backend == "sqlite":
            path = self.workdir / f"{name}.db"
            shutil.copyfile(self.sqlite_template, path)
            assert self.world is not None
            return str(path), self.world
        db = f"{self.tag}_{name}"
        await self._pg_admin(
            f'DROP DATABASE IF EXISTS "{db}"', f'CREATE DATABASE "{db}" TEMPLATE "{self.tag}_tpl"'
        )
        self.pg_dbs.append(db)
        assert self.pg_world is not None
        return f"postgresql://postgres@127.0.0.1:5432/{db}", self.pg_world

    async def cleanup(self) -> None:
        if self.pg_dbs:
            await self._pg_admin(*(f'DROP DATABASE IF EXISTS "{db}"' for db in self.pg_dbs))


async def stored(location: str, channel_ids: Sequence[int]) -> tuple[int, int]:
    """(rows, distinct contents) of bench messages in these channels."""
    ids = ",".join(str(int(c)) for c in channel_ids)
    sql = (
        "SELECT count(*), count(DISTINCT content) FROM messages "
        f"WHERE channel_id IN ({ids}) AND content LIKE 'bench|%'"
    )
    if location.startswith("postgresql://"):
        conn = await asyncpg.connect(location)
        try:
            row = await conn.fetchrow(sql)
        finally:
            await conn.close()
        assert row is not None
        return int(row[0]), int(row[1])
    con = sqlite3.connect(location, timeout=30)
    try:
        total, distinct = con.execute(sql).fetchone()
    finally:
        con.close()
    return int(total), int(distinct)


# ---- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile() -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class ServerProc:
    """One server under test: Zizany (uvicorn) or the Node baseline."""

    def __init__(
        self, impl: str, backend: str, location: str, workdir: Path, extra_env: dict[str, str]
    ) -> None:
        self.impl = impl
        self.backend = backend
        self.location = location
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            {
                "ZIZANY_SECRET_KEY": SECRET,
                "ZIZANY_MESSAGE_RATE_LIMIT": "100000000",
                "ZIZANY_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(extra_env)
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
        else:
            db = f"sqlite:{location}" if backend == "sqlite" else location
            cmd = ["node", str(BENCH / "node_server.mjs"), "--port", str(self.port), "--db", db]
        self.profiler: subprocess.Popen[bytes] | None = None
        self.log = open(workdir / f"{impl}-{backend}-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile,
        )

    async def ready(self, wait_s: float = 60) -> None:
        deadline = time.monotonic() + wait_s
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.impl} exited with {self.proc.returncode}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(f"{self.url}/socket.io/?EIO=4&transport=polling") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.impl} did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        if self.profiler is not None:
            self.profiler.send_signal(2)  # py-spy writes its output on SIGINT
            self.profiler.wait(60)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Loadgen:
    """One load generator process (bench/loadgen.py), driven over stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls) -> Loadgen:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 28,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return cls(proc)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    async def ask(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited ({await self.proc.wait()})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"load generator: {reply['error']}")
        return reply

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ask({"cmd": "close"}), 30)
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()


@contextlib.asynccontextmanager
async def loadgens(n: int) -> AsyncIterator[list[Loadgen]]:
    gens = await asyncio.gather(*(Loadgen.start() for _ in range(n)))
    try:
        yield list(gens)
    finally:
        await asyncio.gather(*(g.close() for g in gens))


def split(items: Sequence[Any], n: int) -> list[list[Any]]:
    return [list(items[i::n]) for i in range(n)]


def pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[idx]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


# ---- correctness ------------------------------------------------------------------------------


@dataclass
class Ledger:
    """Every correctness problem seen in the run (any one fails the bench)."""

    problems: list[str] = field(default_factory=list)

    def check(self, where: str, step: dict[str, Any]) -> bool:
        bad = {
            k: step[k]
            for k in (
                "lost",
                "duplicated",
                "out_of_order",
                "order_diverged_channels",
                "unexpected",
                "refused",
                "unanswered",
            )
            if step.get(k)
        }
        if bad:
            self.problems.append(f"{where}: {bad}")
        return not bad


async def connect_all(
    gens: Sequence[Loadgen], url: str, per_gen: Sequence[Sequence[dict[str, Any]]], conc: int = 40
) -> list[dict[str, Any]]:
    replies = await asyncio.gather(
        *(
            g.ask({"cmd": "connect", "url": url, "sockets": list(s), "concurrency": conc})
            for g, s in zip(gens, per_gen, strict=True)
        )
    )
    failed = sum(r["failed"] for r in replies)
    if failed:
        raise RuntimeError(f"{failed} sockets failed to connect: {replies[0]['failures']}")
    return list(replies)


class ServerPair:
    """Several server processes measured as one (their CPU time summed)."""

    def __init__(self, servers: Sequence[ServerProc]) -> None:
        self.servers = list(servers)

    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)


async def run_step(
    server: ServerProc | ServerPair,
    senders: Sequence[tuple[Loadgen, dict[int, int]]],  # (gen, {sender key: channel})
    receivers: Sequence[Loadgen],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Send at `rate` for `seconds`, collect, check; the step's figures."""
    cpu0 = server.cpu_seconds()
    gens = {id(g): g for g in [*(g for g, _ in senders), *receivers]}.values()
    gen0 = sum(g.cpu_seconds() for g in gens)
    t0 = time.monotonic()
    share = rate / sum(len(m) for _, m in senders)
    sends = await asyncio.gather(
        *(
            g.ask(
                {
                    "cmd": "send",
                    "senders": list(m),
                    "channels": {str(k): c for k, c in m.items()},
                    "rate": share * len(m),
                    "duration": seconds,
                }
            )
            for g, m in senders
        )
    )
    expected: dict[str, dict[str, list[int]]] = {}
    for s in sends:
        for c, m in s["accepted"].items():
            expected.setdefault(c, {}).update(m)
    collects = await asyncio.gather(
        *(g.ask({"cmd": "collect", "expected": expected, "wait": 15}) for g in receivers)
    )
    elapsed = time.monotonic() - t0
    cpu = server.cpu_seconds() - cpu0
    gen_cpu = sum(g.cpu_seconds() for g in gens) - gen0
    worst: dict[str, float] = {}
    for c in collects:
        for k, v in c["worst"].items():
            if v > worst.get(k, -1.0):
                worst[k] = v
    lat = list(worst.values())
    orders: dict[str, set[int]] = {}
    for c in collects:
        for ch, hashes in c["orders"].items():
            orders.setdefault(ch, set()).update(hashes)
    # Every receiver of a channel must see its messages in one and the same order.
    diverged = sum(1 for hashes in orders.values() if len(hashes) > 1)
    acks = [a for s in sends for a in s["ack_s"]]
    deliveries = sum(c["deliveries"] for c in collects)
    send_elapsed = max(max(s["send_elapsed"] for s in sends), seconds)
    sent = sum(s["sent"] for s in sends)
    return {
        "rate": rate,
        "sent": sent,
        "accepted": sum(s["acked"] for s in sends) - sum(s["refused"] for s in sends),
        "refused": sum(s["refused"] for s in sends),
        "unanswered": sum(s["unanswered"] for s in sends),
        "deliveries": deliveries,
        "deliveries_per_s": round(deliveries / send_elapsed, 1),
        "messages_per_s": round(sent / send_elapsed, 1),
        "lost": sum(c["lost"] for c in collects) + max(0, sent - len(lat)),
        "duplicated": sum(c["duplicated"] for c in collects),
        "out_of_order": sum(c["out_of_order"] for c in collects),
        "unexpected": sum(c["unexpected"] for c in collects),
        "order_diverged_channels": diverged,
        "id_inversions": sum(c["id_inversions"] for c in collects),
        "p50_ms": ms(pct(lat, 50)),
        "p95_ms": ms(pct(lat, 95)),
        "p99_ms": ms(pct(lat, 99)),
        "ack_p50_ms": ms(pct(acks, 50)),
        "ack_p99_ms": ms(pct(acks, 99)),
        "server_cpu_s": round(cpu, 3),
        "cpu_us_per_delivery": round(cpu / deliveries * 1e6, 2) if deliveries else None,
        "cpu_us_per_message": round(cpu / sent * 1e6, 1) if sent else None,
        "loadgen_cpu_s": round(gen_cpu, 3),
        "wall_s": round(elapsed, 2),
    }


# ---- scenarios --------------------------------------------------------------------------------


async def scenario_connections(server: ServerProc, world: World, n: int) -> dict[str, Any]:
    """Ramp to n idle sockets, each in its server's room and its channel's room."""
    users = world.conn_users[:n]
    specs = [
        {
            "key": u,
            "cookie": world.cookies[u],
            "server": world.conn_server_of[u][0],
            "channel": world.conn_server_of[u][1],
        }
        for u in users
    ]
    workers = max(2, n // 1250)
    await asyncio.sleep(0.5)
    rss0 = server.rss_bytes()
    cpu0 = server.cpu_seconds()
    async with loadgens(workers) as gens:
        t0 = time.monotonic()
        replies = await connect_all(gens, server.url, split(specs, workers), conc=25)
        elapsed = time.monotonic() - t0
        cpu = server.cpu_seconds() - cpu0
        await asyncio.sleep(1.0)
        rss1 = server.rss_bytes()
    times = [t for r in replies for t in r["connect_s"]]
    return {
        "sockets": n,
        "ramp_s": round(elapsed, 2),
        "handshakes_per_s": round(n / elapsed, 1),
        "connect_p50_ms": ms(pct(times, 50)),
        "connect_p99_ms": ms(pct(times, 99)),
        "rss_before_mb": round(rss0 / 2**20, 1),
        "rss_after_mb": round(rss1 / 2**20, 1),
        "rss_per_connection_kb": round((rss1 - rss0) / n / 1024, 1),
        "server_cpu_ms_per_connection": round(cpu / n * 1000, 3),
    }


async def scenario_fanout(
    server: ServerProc, world: World, params: Params, size: int, ledger: Ledger, label: str
) -> dict[str, Any]:
    """One sender, `size` receivers in one channel room; climb the ladder."""
    channel = world.fan_channel[size]
    receivers = world.fan_receivers[:size]
    workers = 1 if size <= 100 else 2
    steps: list[dict[str, Any]] = []
    accepted = 0
    async with loadgens(workers + 1) as gens:
        send_gen, recv_gens = gens[0], gens[1:]
        specs = [{"key": u, "cookie": world.cookies[u], "channel": channel} for u in receivers]
        await connect_all(recv_gens, server.url, split(specs, workers))
        await connect_all(
            [send_gen], server.url, [[{"key": world.fan_sender, "cookie": world.cookies[1]}]]
        )
        for rate in params.fanout_rates[size]:
            step = await run_step(
                server,
                [(send_gen, {world.fan_sender: channel})],
                recv_gens,
                rate,
                max(params.step_seconds, 12 / rate),
            )
            accepted += step["accepted"]
            ok = ledger.check(f"{label} fan-out {size} @ {rate:g}/s", step)
            step["passed"] = bool(ok and step["p99_ms"] is not None and step["p99_ms"] < 100)
            steps.append(step)
            print(f"  {label} fan-out room {size}: {_brief(step)}", flush=True)
            if _ladder_done(steps):
                break
    rows, distinct = await stored(server.location, [channel])
    if rows != accepted or distinct != accepted:
        ledger.problems.append(
            f"{label} fan-out {size}: {accepted} accepted, {rows} stored ({distinct} distinct)"
        )
    best = max((s for s in steps if s["passed"]), key=lambda s: s["deliveries_per_s"], default=None)
    return {
        "room": size,
        "steps": steps,
        "best": best,
        "lowest": steps[0] if steps else None,
        "stored_ok": rows == accepted == distinct,
    }


async def scenario_create(
    server: ServerProc, world: World, params: Params, ledger: Ledger, label: str
) -> dict[str, Any]:
    """100 channels of 10 members, every member sending; climb until p99 > 200 ms."""
    socks = [
        {"key": u, "cookie": world.cookies[u], "channel": c}
        for c, us in world.create_members.items()
        for u in us
    ]
    workers = 2
    steps: list[dict[str, Any]] = []
    accepted = 0
    async with loadgens(workers) as gens:
        parts = split(socks, workers)
        await connect_all(gens, server.url, parts)
        senders = [
            (g, {s["key"]: s["channel"] for s in p}) for g, p in zip(gens, parts, strict=True)
        ]
        for rate in params.create_rates:
            step = await run_step(server, senders, gens, rate, params.step_seconds)
            accepted += step["accepted"]
            ok = ledger.check(f"{label} message:create @ {rate}/s", step)
            step["passed"] = bool(ok and step["p99_ms"] is not None and step["p99_ms"] < 200)
            steps.append(step)
            print(f"  {label} message:create: {_brief(step)}", flush=True)
            if _ladder_done(steps):
                break
    rows, distinct = await stored(server.location, list(world.create_members))
    if rows != accepted or distinct != accepted:
        ledger.problems.append(
            f"{label} message:create: {accepted} accepted, {rows} stored ({distinct} distinct)"
        )
    best = max((s for s in steps if s["passed"]), key=lambda s: s["messages_per_s"], default=None)
    return {"steps": steps, "best": best, "stored_ok": rows == accepted == distinct}


async def scenario_history(server: ServerProc, world: World, params: Params) -> dict[str, Any]:
    """`GET /api/channels/{id}/messages` pages: the newest, and one deep in the past."""
    url = f"{server.url}/api/channels/{world.history_channel}/messages"
    headers = {"Cookie": f"connect.sid={world.cookies[world.history_user]}"}
    out: dict[str, Any] = {"rows": params.history_rows}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(url, params={"limit": "50"}) as r:
            first = await r.json()
            if r.status != 200:
                raise RuntimeError(f"history: {r.status} {first}")
        newest = first["messages"][-1]["id"]
        deep = newest - params.history_rows + 1000  # ~1000 messages from the channel's start
        for name, query in (
            ("first_page", {"limit": "50"}),
            ("deep_cursor", {"limit": "50", "before": str(deep)}),
        ):
            times: list[float] = []
            for _ in range(params.history_requests):
                t0 = time.monotonic()
                async with http.get(url, params=query) as r:
                    page = await r.json()
                times.append(time.monotonic() - t0)
                ids = [m["id"] for m in page["messages"]]
                if r.status != 200 or len(ids) != 50 or ids != sorted(ids):
                    raise RuntimeError(f"history {name}: bad page {r.status}")
            out[name] = {"p50_ms": ms(pct(times, 50)), "p99_ms": ms(pct(times, 99))}
    return out


def _ladder_done(steps: Sequence[dict[str, Any]]) -> bool:
    """Stop climbing after two failed steps in a row (one spike on a busy machine is not
    the limit); the figure is the highest rate that passed."""
    return len(steps) >= 2 and not steps[-1]["passed"] and not steps[-2]["passed"]


def _brief(step: dict[str, Any]) -> str:
    return (
        f"{step['messages_per_s']:g} msg/s, {step['deliveries_per_s']:g} deliveries/s, "
        f"p50 {step['p50_ms']} ms p99 {step['p99_ms']} ms, "
        f"{step['cpu_us_per_delivery']} CPU-µs/delivery, "
        f"lost {step['lost']} dup {step['duplicated']} disorder {step['out_of_order']} "
        f"diverged {step['order_diverged_channels']} id-inversions {step['id_inversions']}"
    )


async def scenario_cluster(
    pair: ServerPair, world: World, params: Params, ledger: Ledger, label: str, location: str
) -> dict[str, Any]:
    """One sender on process A, a room of receivers on process B; climb fan-out's ladder."""
    a, b = pair.servers
    size = params.cluster_room
    channel = world.cluster_channel
    receivers = world.fan_receivers[:size]
    workers = 1 if size <= 100 else 2
    rates = params.fanout_rates[100]
    steps: list[dict[str, Any]] = []
    accepted = 0
    async with loadgens(workers + 1) as gens:
        send_gen, recv_gens = gens[0], gens[1:]
        specs = [{"key": u, "cookie": world.cookies[u], "channel": channel} for u in receivers]
        await connect_all(recv_gens, b.url, split(specs, workers))
        sender = world.fan_sender
        await connect_all([send_gen], a.url, [[{"key": sender, "cookie": world.cookies[sender]}]])
        await asyncio.sleep(0.5)  # let B's room subscriptions settle
        for rate in rates:
            step = await run_step(
                pair,
                [(send_gen, {sender: channel})],
                recv_gens,
                rate,
                max(params.step_seconds, 12 / rate),
            )
            accepted += step["accepted"]
            ok = ledger.check(f"{label} room {size} @ {rate:g}/s", step)
            step["passed"] = bool(ok and step["p99_ms"] is not None and step["p99_ms"] < 100)
            steps.append(step)
            print(f"  {label} room {size} (A → B): {_brief(step)}", flush=True)
            if _ladder_done(steps):
                break
    rows, distinct = await stored(location, [channel])
    if rows != accepted or distinct != accepted:
        ledger.problems.append(
            f"{label} room {size}: {accepted} accepted, {rows} stored ({distinct} distinct)"
        )
    best = max((s for s in steps if s["passed"]), key=lambda s: s["deliveries_per_s"], default=None)
    return {
        "room": size,
        "processes": 2,
        "steps": steps,
        "best": best,
        "lowest": steps[0] if steps else None,
        "stored_ok": rows == accepted == distinct,
    }


async def redis_reachable(url: str) -> str | None:
    """None when Redis answers PING, else why not."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        return repr(exc)
    finally:
        await client.aclose()
    return None


async def redis_forget(url: str, prefix: str) -> int:
    """Delete the run's keys (`{prefix}:*`, SCAN + DEL); how many."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await client.delete(*batch))
                batch = []
        if batch:
            deleted += int(await client.delete(*batch))
    finally:
        await client.aclose()
    return deleted


async def bench_cluster(
    results: dict[str, Any], dbs: Databases, params: Params, ledger: Ledger, workdir: Path
) -> None:
    """Two Zizany processes on one PostgreSQL database and Redis: cross-process delivery."""
    label = "zizany-cluster"
    if not params.postgres or dbs.pg_world is None:
        print(f"== {label}: skipped (needs PostgreSQL; --no-postgres was given)", flush=True)
        return
    why = await redis_reachable(REDIS_URL)
    if why is not None:
        print(f"== {label}: skipped (Redis at {REDIS_URL} unreachable: {why})", flush=True)
        return
    print(f"== {label}", flush=True)
    prefix = f"zb{os.getpid()}"
    location, world = await dbs.copy("postgresql", "cluster")
    env = {"ZIZANY_REDIS_URL": REDIS_URL, "ZIZANY_REDIS_PREFIX": prefix}
    servers: list[ServerProc] = []
    try:
        for name in ("a", "b"):
            servers.append(
                ServerProc(
                    "zizany",
                    "postgresql",
                    location,
                    workdir,
                    {**env, "ZIZANY_INSTANCE_ID": f"{prefix}-{name}"},
                )
            )
        await asyncio.gather(*(s.ready() for s in servers))
        if PROFILE_DIR is not None:
            for name, s in zip(("cluster-a", "cluster-b"), servers, strict=True):
                s.profiler = start_profiler(PROFILE_DIR, name, s.proc.pid)
            await asyncio.sleep(1)
        pair = ServerPair(servers)
        out: dict[str, Any] = results.setdefault(label, {})
        out["rss_idle_mb"] = [round(s.rss_bytes() / 2**20, 1) for s in servers]
        out["cluster"] = await scenario_cluster(pair, world, params, ledger, label, location)
    finally:
        for s in servers:
            s.stop()
        with contextlib.suppress(Exception):
            n = await redis_forget(REDIS_URL, prefix)
            print(f"  {label}: deleted {n} Redis keys under {prefix}:", flush=True)


# ---- the run ----------------------------------------------------------------------------------


async def with_server(
    dbs: Databases,
    impl: str,
    backend: str,
    name: str,
    workdir: Path,
    env: dict[str, str] | None = None,
) -> tuple[ServerProc, World]:
    location, world = await dbs.copy(backend, name)
    server = ServerProc(impl, backend, location, workdir, env or {})
    await server.ready()
    if PROFILE_DIR is not None and impl == "zizany":
        server.profiler = start_profiler(PROFILE_DIR, name, server.proc.pid)
        await asyncio.sleep(1)
    return server, world


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


async def bench_instance(
    results: dict[str, Any],
    dbs: Databases,
    params: Params,
    ledger: Ledger,
    workdir: Path,
    impl: str,
    backend: str,
    scenarios: Sequence[str],
    label: str,
    env: dict[str, str] | None = None,
) -> None:
    print(f"== {label}", flush=True)
    server, world = await with_server(dbs, impl, backend, label, workdir, env)
    out: dict[str, Any] = results.setdefault(label, {})
    try:
        out["rss_idle_mb"] = round(server.rss_bytes() / 2**20, 1)
        if "connections" in scenarios:
            out["connections"] = []
            for n in params.connections:
                res = await scenario_connections(server, world, n)
                print(f"  {label} connections {n}: {res}", flush=True)
                out["connections"].append(res)
        if "fanout" in scenarios:
            out["fanout"] = []
            for size in params.room_sizes:
                out["fanout"].append(
                    await scenario_fanout(server, world, params, size, ledger, label)
                )
        if "fanout-validation" in scenarios:
            out["fanout"] = [
                await scenario_fanout(server, world, params, params.validation_room, ledger, label)
            ]
        if "create" in scenarios:
            out["message_create"] = await scenario_create(server, world, params, ledger, label)
        if "history" in scenarios:
            out["history"] = await scenario_history(server, world, params)
            print(f"  {label} history: {out['history']}", flush=True)
    finally:
        server.stop()


def versions() -> dict[str, str]:
    import engineio
    import socketio

    node_pkg = BENCH / "node_modules" / "socket.io" / "package.json"
    out = {
        "python": platform.python_version(),
        "python-socketio": getattr(socketio, "__version__", "?"),
        "python-engineio": getattr(engineio, "__version__", "?"),
        "sqlite": sqlite3.sqlite_version,
        "node": subprocess.run(
            ["node", "--version"], capture_output=True, text=True
        ).stdout.strip(),
    }
    from importlib.metadata import version

    for pkg in ("python-socketio", "python-engineio", "uvicorn", "sqlalchemy", "asyncpg"):
        with contextlib.suppress(Exception):
            out[pkg] = version(pkg)
    if node_pkg.exists():
        out["socket.io (npm)"] = json.loads(node_pkg.read_text())["version"]
    return out


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "host": platform.node(),
        "kernel": platform.release(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "load_average_at_start": list(os.getloadavg()),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def summarize(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The markdown table and the ratio figures."""
    z, n = results.get("zizany-sqlite", {}), results.get("node-sqlite", {})
    lines = [
        "| scenario | figure | Zizany | Node | Zizany / Node |",
        "|---|---|---:|---:|---:|",
    ]
    ratios: dict[str, Any] = {}

    def row(scn: str, fig: str, a: float | None, b: float | None) -> None:
        r = ratio(a, b)
        ratios[f"{scn} · {fig}"] = r
        lines.append(f"| {scn} | {fig} | {_fmt(a)} | {_fmt(b)} | {_fmt(r)} |")

    for zc, nc in zip(z.get("connections", []), n.get("connections", []), strict=False):
        scn = f"connections {zc['sockets']}"
        row(scn, "handshakes/s", zc["handshakes_per_s"], nc["handshakes_per_s"])
        row(scn, "connect p99 ms", zc["connect_p99_ms"], nc["connect_p99_ms"])
        row(scn, "RSS KiB/connection", zc["rss_per_connection_kb"], nc["rss_per_connection_kb"])
    for zf, nf in zip(z.get("fanout", []), n.get("fanout", []), strict=False):
        scn = f"fan-out room {zf['room']}"
        zb, nb = zf["best"] or {}, nf["best"] or {}
        row(scn, "deliveries/s (p99<100ms)", zb.get("deliveries_per_s"), nb.get("deliveries_per_s"))
        row(scn, "p99 ms at that rate", zb.get("p99_ms"), nb.get("p99_ms"))
        row(scn, "CPU-µs/delivery", zb.get("cpu_us_per_delivery"), nb.get("cpu_us_per_delivery"))
        zl, nl = zf.get("lowest") or {}, nf.get("lowest") or {}
        if zl and nl:
            scn_low = f"{scn} @ {zl['rate']:g} msg/s"
            row(scn_low, "p50 ms", zl.get("p50_ms"), nl.get("p50_ms"))
            row(scn_low, "p99 ms", zl.get("p99_ms"), nl.get("p99_ms"))
            row(
                scn_low,
                "CPU-µs/delivery",
                zl.get("cpu_us_per_delivery"),
                nl.get("cpu_us_per_delivery"),
            )
    for backend in ("sqlite", "postgresql"):
        zm = results.get(f"zizany-{backend}", {}).get("message_create")
        nm = results.get(f"node-{backend}", {}).get("message_create")
        if zm and nm:
            scn = f"message:create {backend}"
            zb, nb = zm["best"] or {}, nm["best"] or {}
            row(scn, "msg/s (p99<200ms)", zb.get("messages_per_s"), nb.get("messages_per_s"))
            for q in ("p50_ms", "p95_ms", "p99_ms"):
                row(scn, f"{q.replace('_ms', '')} ms at that rate", zb.get(q), nb.get(q))
            row(scn, "CPU-µs/message", zb.get("cpu_us_per_message"), nb.get("cpu_us_per_message"))
    hist = z.get("history")
    if hist:
        for name in ("first_page", "deep_cursor"):
            lines.append(
                f"| history ({hist['rows']:,} rows) | {name} p99 ms | "
                f"{_fmt(hist[name]['p99_ms'])} | – | – |"
            )
    cl = results.get("zizany-cluster", {}).get("cluster")
    if cl:
        scn = f"cluster, 2 processes on Redis, room {cl['room']} (A → B)"
        best, low = cl["best"] or {}, cl.get("lowest") or {}
        figures: list[tuple[str, float | None]] = [
            ("deliveries/s (p99<100ms)", best.get("deliveries_per_s")),
            ("msg/s at that rate", best.get("messages_per_s")),
            ("p50 ms at that rate", best.get("p50_ms")),
            ("p99 ms at that rate", best.get("p99_ms")),
            ("CPU-µs/delivery (both processes)", best.get("cpu_us_per_delivery")),
        ]
        if low:
            figures += [
                (f"p50 ms @ {low['rate']:g} msg/s", low.get("p50_ms")),
                (f"p99 ms @ {low['rate']:g} msg/s", low.get("p99_ms")),
            ]
        for fig, value in figures:
            ratios[f"{scn} · {fig}"] = None
            lines.append(f"| {scn} | {fig} | {_fmt(value)} | n/a | n/a |")
    off = results.get("zizany-sqlite-novalidate", {}).get("fanout")
    on = next((f for f in z.get("fanout", []) if off and f["room"] == off[0]["room"]), None)
    if off and on:
        ob, fb = on["best"] or {}, off[0]["best"] or {}
        room = off[0]["room"]
        a, b = ob.get("cpu_us_per_delivery"), fb.get("cpu_us_per_delivery")
        ratios["validation on/off · CPU-µs/delivery"] = ratio(a, b)
        lines.append(
            f"| validation, fan-out room {room} | CPU-µs/delivery on / off | {_fmt(a)} | "
            f"{_fmt(b)} (off) | {_fmt(ratio(a, b))} |"
        )
        a, b = ob.get("deliveries_per_s"), fb.get("deliveries_per_s")
        ratios["validation on/off · deliveries/s"] = ratio(a, b)
        lines.append(
            f"| validation, fan-out room {room} | deliveries/s on / off | {_fmt(a)} | "
            f"{_fmt(b)} (off) | {_fmt(ratio(a, b))} |"
        )
    return "\n".join(lines), ratios


def _fmt(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, style in (("zizany-sqlite", "o-"), ("node-sqlite", "s--")):
        fan = results.get(label, {}).get("fanout", [])
        sizes = [f["room"] for f in fan if f["best"]]
        bests = [f["best"] for f in fan if f["best"]]
        if not bests:
            continue
        ax1.plot(sizes, [b["deliveries_per_s"] for b in bests], style, label=label)
        ax2.plot(sizes, [b["p50_ms"] for b in bests], style, label=f"{label} p50")
        ax2.plot(sizes, [b["p99_ms"] for b in bests], style, alpha=0.5, label=f"{label} p99")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("room size (receivers)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylabel("deliveries/s at the highest rate with p99 < 100 ms")
    ax2.set_ylabel("sender → last receiver latency at that rate (ms)")
    ax1.set_title("fan-out throughput")
    ax2.set_title("fan-out latency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def main_async(args: argparse.Namespace) -> int:
    params = Params.make(args.quick)
    params.postgres = not args.no_postgres
    only = set(args.only.split(",")) if args.only else None
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "started_at": stamp,
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "versions": versions(),
        "params": asdict(params),
    }
    results: dict[str, Any] = {}
    ledger = Ledger()
    workdir = Path(tempfile.mkdtemp(prefix="zizany-bench-"))
    dbs = Databases(workdir, params)
    print(f"seeding (SQLite{' and PostgreSQL' if params.postgres else ''}) ...", flush=True)
    await dbs.prepare()
    plan: list[tuple[str, str, list[str], str, dict[str, str]]] = [
        ("zizany", "sqlite", ["connections", "fanout", "create", "history"], "zizany-sqlite", {}),
        ("node", "sqlite", ["connections", "fanout", "create"], "node-sqlite", {}),
        (
            "zizany",
            "sqlite",
            ["fanout-validation"],
            "zizany-sqlite-novalidate",
            {"ZIZANY_VALIDATE_EMITS": "false"},
        ),
    ]
    if args.patches:
        plan.insert(
            1,
            (
                "zizany",
                "sqlite",
                ["fanout", "create"],
                "zizany-sqlite-patched",
                {"BENCH_PATCHES": args.patches},
            ),
        )
    if args.skip_node:
        plan = [p for p in plan if p[0] != "node"]
    if params.postgres:
        plan += [
            ("zizany", "postgresql", ["create"], "zizany-postgresql", {}),
            ("node", "postgresql", ["create"], "node-postgresql", {}),
        ]
    try:
        for impl, backend, scenarios, label, env in plan:
            chosen = [s for s in scenarios if only is None or s in only]
            if chosen:
                await bench_instance(
                    results, dbs, params, ledger, workdir, impl, backend, chosen, label, env
                )
        if only is None or "cluster" in only:
            await bench_cluster(results, dbs, params, ledger, workdir)
    finally:
        await dbs.cleanup()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    table, ratios = summarize(results)
    if "zizany-sqlite-patched" in results:
        ab, ab_ratios = summarize(
            {
                "zizany-sqlite": results["zizany-sqlite-patched"],
                "node-sqlite": results["zizany-sqlite"],
            }
        )
        table += (
            "\n\nPatched ("
            + args.patches
            + ") / unpatched Zizany:\n\n"
            + ab.replace(
                "| Zizany | Node | Zizany / Node |", "| patched | unpatched | patched / unpatched |"
            )
        )
        ratios["patched/unpatched"] = ab_ratios
    record.update(
        {
            "results": results,
            "ratios": ratios,
            "correctness_problems": ledger.problems,
            "duration_s": round(time.monotonic() - started, 1),
            "load_average_at_end": list(os.getloadavg()),
        }
    )
    out = RESULTS / f"{stamp}{'-quick' if params.quick else ''}.json"
    out.write_text(json.dumps(record, indent=2))
    png = out.with_suffix(".png")
    chart(results, png)
    summary = (
        f"Run {stamp} ({'quick' if params.quick else 'full'}, {record['duration_s']} s, "
        f"load average {record['machine']['load_average_at_start'][0]:.2f} at start, "
        f"{record['load_average_at_end'][0]:.2f} at end)\n\n{table}\n"
    )
    out.with_suffix(".md").write_text(summary)
    print()
    print(summary)
    print(f"results: {out.relative_to(ROOT)}, chart: {png.relative_to(ROOT)}")
    if ledger.problems:
        print("\nCORRECTNESS FAILURES (the bench fails):", file=sys.stderr)
        for p in ledger.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the short form (< 3 minutes)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL runs")
    parser.add_argument(
        "--only",
        default="",
        help=(
            "comma-separated scenarios: connections,fanout,create,history,fanout-validation,cluster"
        ),
    )
    parser.add_argument("--profile", type=Path, help="py-spy every Zizany server into this dir")
    parser.add_argument(
        "--patches", default="", help="also run Zizany with these bench/patches.py experiments"
    )
    parser.add_argument("--skip-node", action="store_true", help="no Node.js baseline runs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, dbs)")
    args = parser.parse_args(argv)
    raise_nofile()
    global PROFILE_DIR
    PROFILE_DIR = args.profile
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
