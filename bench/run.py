"""`nox -s bench` (`./dev bench [-- --quick]`): Zizany against a Node.js Socket.IO baseline.

Starts each server as a subprocess on a free port of 127.0.0.1 over a freshly seeded copy
of the same database (bench/plan.py), drives it with load generator processes
(bench/generators.py: python-socketio senders, light Node.js receivers), reads the
server's CPU time and resident memory from /proc, checks that nothing was lost,
duplicated, reordered or stored twice (bench/steps.py), and writes
bench/results/<timestamp>.json, a chart (.png) and a markdown summary (bench/report.py;
printed, and beside the JSON as .md).

Scenarios (bench/scenarios.py, bench/memory.py): the generator's ceiling against a
broadcast-only server, connections, fan-out (rooms of 10 to 5,000), message:create on
SQLite and PostgreSQL, history, the memory probe (tracemalloc over idle sockets), emit
validation on/off, cluster (two processes on Redis), workers (`zizany serve
--workers N`, message:create) and metrics on/off (fan-out room 100 and message:create).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import plan, report
from bench.databases import Databases
from bench.params import Params
from bench.servers import BENCH, ROOT, raise_nofile

RESULTS = BENCH / "results"


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

    for pkg in (
        *("python-socketio", "python-engineio", "uvicorn", "websockets"),
        *("sqlalchemy", "asyncpg", "picows"),
    ):
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


async def main_async(args: argparse.Namespace) -> int:
    params = Params.make(args.quick)
    params.postgres = not args.no_postgres
    only = set(args.only.split(",")) if args.only else None
    unknown = (only or set()) - set(plan.SCENARIOS)
    if unknown:
        print(f"bench: unknown scenarios {sorted(unknown)}; known: {plan.SCENARIOS}")
        return 2
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
    workdir = Path(tempfile.mkdtemp(prefix="zizany-bench-"))
    run = plan.Run(params, Databases(workdir, params), workdir, only, args.profile)
    print(f"seeding (SQLite{' and PostgreSQL' if params.postgres else ''}) ...", flush=True)
    try:
        await run.dbs.prepare()
        if run.wants("ceiling"):
            await plan.bench_ceiling(run)
        for inst in plan.plan(run, skip_node=args.skip_node, patches=args.patches):
            await plan.bench_instance(run, inst)
        if run.wants("cluster"):
            await plan.bench_cluster(run)
        if run.wants("workers"):
            await plan.bench_workers(run, params.workers)
    finally:
        await run.dbs.cleanup()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    results = run.results
    table, ratios = report.summarize(results)
    if "zizany-sqlite-patched" in results:
        ab, ab_ratios = report.comparison(
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
            "correctness_problems": run.ledger.problems,
            "duration_s": round(time.monotonic() - started, 1),
            "load_average_at_end": list(os.getloadavg()),
        }
    )
    out = RESULTS / f"{stamp}{'-quick' if params.quick else ''}.json"
    out.write_text(json.dumps(record, indent=2))
    png = out.with_suffix(".png")
    report.chart(results, png)
    summary = (
        f"Run {stamp} ({'quick' if params.quick else 'full'}, {record['duration_s']} s, "
        f"load average {record['machine']['load_average_at_start'][0]:.2f} at start, "
        f"{record['load_average_at_end'][0]:.2f} at end)\n\n{table}\n"
    )
    out.with_suffix(".md").write_text(summary)
    print()
    print(summary)
    print(f"results: {out.relative_to(ROOT)}, chart: {png.relative_to(ROOT)}")
    if run.ledger.problems:
        print("\nCORRECTNESS FAILURES (the bench fails):", file=sys.stderr)
        for p in run.ledger.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the short form (< 3 minutes)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL runs")
    parser.add_argument(
        "--only", default="", help="comma-separated scenarios: " + ",".join(plan.SCENARIOS)
    )
    parser.add_argument("--profile", type=Path, help="py-spy every Zizany server into this dir")
    parser.add_argument(
        "--patches", default="", help="also run Zizany with these bench/patches.py experiments"
    )
    parser.add_argument("--skip-node", action="store_true", help="no Node.js baseline runs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, dbs)")
    args = parser.parse_args(argv)
    raise_nofile()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
