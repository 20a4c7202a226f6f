"""The run's plan: which servers are started, in which order, and what each one runs.

Every server instance gets its own copy of the seeded database and is stopped after its
scenarios. `Run` holds what they share: parameters, databases, the correctness ledger,
the work directory, the profile directory and the results.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import memory, scenarios
from bench.databases import Databases
from bench.params import Params
from bench.redis_keys import REDIS_URL, redis_forget, redis_reachable
from bench.servers import ROOT, ServerGroup, ServerProc, start_profiler
from bench.steps import Ledger
from bench.world import World

SCENARIOS = (
    "ceiling",
    "connections",
    "fanout",
    "create",
    "history",
    "memory",
    "fanout-validation",
    "cluster",
    "workers",
    "metrics",
)


@dataclass
class Run:
    """What the servers of one run share."""

    params: Params
    dbs: Databases
    workdir: Path
    only: set[str] | None = None
    profile_dir: Path | None = None
    ledger: Ledger = field(default_factory=Ledger)
    results: dict[str, Any] = field(default_factory=dict)

    def wants(self, scenario: str) -> bool:
        return self.only is None or scenario in self.only


@dataclass
class Instance:
    """One server of the plan and its scenarios."""

    impl: str
    backend: str
    scenarios: list[str]
    label: str
    env: dict[str, str] = field(default_factory=dict)


def plan(run: Run, *, skip_node: bool, patches: str) -> list[Instance]:
    """The single-process servers, in order."""
    out = [
        Instance(
            "zizany",
            "sqlite",
            ["connections", "fanout", "create", "history"],
            "zizany-sqlite",
        ),
        Instance("node", "sqlite", ["connections", "fanout", "create"], "node-sqlite"),
        Instance(
            "zizany",
            "sqlite",
            ["fanout-validation"],
            "zizany-sqlite-novalidate",
            {"ZIZANY_VALIDATE_EMITS": "false"},
        ),
        *(
            Instance(
                "zizany",
                "sqlite",
                ["metrics"],
                f"zizany-sqlite-metrics-{state}",
                {"ZIZANY_METRICS": "true" if state == "on" else "false"},
            )
            for state in ("off", "on")
        ),
        Instance(
            "zizany",
            "sqlite",
            ["memory"],
            "zizany-sqlite-tracemalloc",
            memory.tracing_env(run.workdir),
        ),
    ]
    if patches:
        out.insert(
            1,
            Instance(
                "zizany",
                "sqlite",
                ["fanout", "create"],
                "zizany-sqlite-patched",
                {"BENCH_PATCHES": patches},
            ),
        )
    if skip_node:
        out = [i for i in out if i.impl != "node"]
    if run.params.postgres:
        out += [
            Instance("zizany", "postgresql", ["create"], "zizany-postgresql"),
            Instance("node", "postgresql", ["create"], "node-postgresql"),
        ]
    return [i for i in out if any(run.wants(s) for s in i.scenarios)]


async def with_server(
    run: Run,
    impl: str,
    backend: str,
    name: str,
    env: dict[str, str] | None = None,
    workers: int | None = None,
) -> tuple[ServerProc, World]:
    if impl == "ceiling":
        assert run.dbs.world is not None
        location, world = "", run.dbs.world
    else:
        location, world = await run.dbs.copy(backend, name)
    server = ServerProc(impl, backend, location, run.workdir, env or {}, workers)
    try:
        await server.ready()
    except BaseException:
        server.stop()
        raise
    if run.profile_dir is not None and impl == "zizany" and workers is None:
        server.profiler = start_profiler(run.profile_dir, name, server.proc.pid)
        await asyncio.sleep(1)
    return server, world


async def bench_ceiling(run: Run) -> None:
    """The generator's ceiling: the fan-out ladder against bench/ceiling_server.mjs."""
    label = "ceiling"
    print(f"== {label} (the load generator against a broadcast-only server)", flush=True)
    server, world = await with_server(run, "ceiling", "none", label)
    out: dict[str, Any] = run.results.setdefault(label, {})
    # Past its ceiling the generator falls behind (acks late, deliveries missing): that is
    # the figure sought, not a fault of a server under test, so it is reported, not failed.
    ledger = Ledger()
    try:
        out["fanout"] = []
        for size, rates in sorted(run.params.ceiling_rates.items()):
            out["fanout"].append(
                await scenarios.fanout(
                    server, world, run.params, size, rates, ledger, label, overload=False
                )
            )
    finally:
        server.stop()
        out["problems"] = ledger.problems


async def bench_instance(run: Run, inst: Instance) -> None:
    chosen = [s for s in inst.scenarios if run.wants(s)]
    label, params = inst.label, run.params
    print(f"== {label}", flush=True)
    server, world = await with_server(run, inst.impl, inst.backend, label, inst.env)
    out: dict[str, Any] = run.results.setdefault(label, {})
    try:
        out["rss_idle_mb"] = round(server.rss_bytes() / 2**20, 1)
        if "connections" in chosen:
            out["connections"] = []
            for n in params.connections:
                res = await scenarios.connections(server, world, n)
                print(f"  {label} connections {n}: {res}", flush=True)
                out["connections"].append(res)
                await server.quiesce()
        if "fanout" in chosen:
            out["fanout"] = []
            for size in params.room_sizes:
                out["fanout"].append(
                    await scenarios.fanout(
                        server, world, params, size, params.fanout_rates[size], run.ledger, label
                    )
                )
                await server.quiesce()
        if "fanout-validation" in chosen:
            size = params.validation_room
            out["fanout"] = [
                await scenarios.fanout(
                    server,
                    world,
                    params,
                    size,
                    params.fanout_rates[size],
                    run.ledger,
                    label,
                    overload=False,
                )
            ]
        if "metrics" in chosen:
            on = inst.env.get("ZIZANY_METRICS") == "true"
            out.update(await scenarios.metrics(server, world, params, run.ledger, label, on=on))
        if "create" in chosen:
            out["message_create"] = await scenarios.create(server, world, params, run.ledger, label)
        if "history" in chosen:
            out["history"] = await scenarios.history(server, world, params)
            print(f"  {label} history: {out['history']}", flush=True)
        if "memory" in chosen:
            out["memory"] = await memory.probe(
                server, world, params.memory_sockets, params.memory_top, ROOT
            )
            m = out["memory"]
            print(
                f"  {label} memory, {m['sockets']} idle sockets: "
                f"RSS {m['rss_kib_per_connection']} KiB/connection, "
                f"traced {m['traced_kib_per_connection']} KiB/connection",
                flush=True,
            )
    finally:
        server.stop()


async def redis_ready(run: Run, label: str) -> bool:
    """Whether PostgreSQL and Redis are there for a multi-process scenario (else say why)."""
    if not run.params.postgres or run.dbs.pg_world is None:
        print(f"== {label}: skipped (needs PostgreSQL; --no-postgres was given)", flush=True)
        return False
    why = await redis_reachable(REDIS_URL)
    if why is not None:
        print(f"== {label}: skipped (Redis at {REDIS_URL} unreachable: {why})", flush=True)
        return False
    return True


async def bench_cluster(run: Run) -> None:
    """Two Zizany processes on one PostgreSQL database and Redis: cross-process delivery."""
    label = "zizany-cluster"
    if not await redis_ready(run, label):
        return
    print(f"== {label}", flush=True)
    prefix = f"zb{os.getpid()}"
    location, world = await run.dbs.copy("postgresql", "cluster")
    env = {"ZIZANY_REDIS_URL": REDIS_URL, "ZIZANY_REDIS_PREFIX": prefix}
    servers: list[ServerProc] = []
    try:
        for name in ("a", "b"):
            servers.append(
                ServerProc(
                    "zizany",
                    "postgresql",
                    location,
                    run.workdir,
                    {**env, "ZIZANY_INSTANCE_ID": f"{prefix}-{name}"},
                )
            )
        await asyncio.gather(*(s.ready() for s in servers))
        if run.profile_dir is not None:
            for name, s in zip(("cluster-a", "cluster-b"), servers, strict=True):
                s.profiler = start_profiler(run.profile_dir, name, s.proc.pid)
            await asyncio.sleep(1)
        out: dict[str, Any] = run.results.setdefault(label, {})
        out["rss_idle_mb"] = [round(s.rss_bytes() / 2**20, 1) for s in servers]
        out["cluster"] = await scenarios.cluster(
            ServerGroup(servers), world, run.params, run.ledger, label
        )
    finally:
        for s in servers:
            s.stop()
        await forget(prefix, label)


async def bench_workers(run: Run, counts: Sequence[int]) -> None:
    """`message:create` on `zizany serve --workers N` (PostgreSQL, Redis) for each N."""
    label = "zizany-workers"
    if not await redis_ready(run, label):
        return
    out: dict[str, Any] = run.results.setdefault(label, {})
    for n in counts:
        name = f"{label}-{n}"
        print(f"== {name} (zizany serve --workers {n}, PostgreSQL, Redis)", flush=True)
        prefix = f"zb{os.getpid()}w{n}"
        env = {
            "ZIZANY_REDIS_URL": REDIS_URL,
            "ZIZANY_REDIS_PREFIX": prefix,
            "ZIZANY_INSTANCE_ID": prefix,
        }
        server, world = await with_server(run, "zizany", "postgresql", name, env, workers=n)
        try:
            out[str(n)] = await scenarios.create(
                server, world, run.params, run.ledger, name, overload=False
            )
        finally:
            server.stop()
            await forget(prefix, name)


async def forget(prefix: str, label: str) -> None:
    with contextlib.suppress(Exception):
        n = await redis_forget(REDIS_URL, prefix)
        print(f"  {label}: deleted {n} Redis keys under {prefix}:", flush=True)
