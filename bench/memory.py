"""The memory probe: what one idle authenticated socket holds in a Zizany server.

The server runs with tracemalloc (`BENCH_TRACEMALLOC=<frames>`, honoured by
bench/zizany_server.py, which then answers `GET /__bench/tracemalloc/<name>` by dumping a
snapshot into `BENCH_TRACEMALLOC_DIR`). The probe takes a snapshot before and after opening
`memory_sockets` idle sockets (light receivers; each `server:join`s its server of 50 and
`channel:join`s its channel) and reports RSS and traced bytes per connection and the
allocation sites that grew the most (tracemalloc's `compare_to`, by line and by file).
"""

from __future__ import annotations

import asyncio
import gc
import re
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp

from bench.generators import connect_all, loadgens
from bench.servers import ServerProc
from bench.world import World

STDLIB = re.compile(r"^.*/lib/python3\.\d+/(?!site-packages/)")
TRACE_FRAMES = 1  # the allocating line; more frames make tracemalloc's overhead grow


def tracing_env(workdir: Path) -> dict[str, str]:
    """The environment of a server that traces its allocations."""
    return {"BENCH_TRACEMALLOC": str(TRACE_FRAMES), "BENCH_TRACEMALLOC_DIR": str(workdir)}


async def snapshot(server: ServerProc, name: str) -> Path:
    """Have the server dump a tracemalloc snapshot; its path."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/__bench/tracemalloc/{name}") as r,
    ):
        body = await r.text()
        if r.status != 200:
            raise RuntimeError(f"tracemalloc snapshot: {r.status} {body[:200]}")
    return Path(body.strip())


def _site(stat: tracemalloc.StatisticDiff, root: str) -> str:
    """`file:line`, the file relative to site-packages, the standard library or the repo."""
    frame = stat.traceback[0]
    name = STDLIB.sub("", frame.filename)
    for marker in ("site-packages/", root + "/"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


def top_sites(before: Path, after: Path, n: int, sockets: int, root: str) -> dict[str, Any]:
    """The allocation sites that grew the most between two snapshots."""
    old = tracemalloc.Snapshot.load(str(before))
    new = tracemalloc.Snapshot.load(str(after))
    gc.collect()
    lines = new.compare_to(old, "lineno")
    files = new.compare_to(old, "filename")
    grown = sum(s.size_diff for s in lines)
    return {
        "traced_bytes_grown": grown,
        "traced_kib_per_connection": round(grown / sockets / 1024, 2),
        "top_lines": [
            {
                "site": _site(s, root),
                "kib": round(s.size_diff / 1024, 1),
                "blocks": s.count_diff,
                "bytes_per_connection": round(s.size_diff / sockets),
            }
            for s in lines[:n]
        ],
        "top_files": [
            {
                "file": _site(s, root).rsplit(":", 1)[0],
                "kib": round(s.size_diff / 1024, 1),
                "bytes_per_connection": round(s.size_diff / sockets),
            }
            for s in files[: max(5, n // 2)]
        ],
    }


async def probe(
    server: ServerProc, world: World, sockets: int, top: int, root: Path
) -> dict[str, Any]:
    """Open `sockets` idle authenticated sockets; RSS and traced memory per connection."""
    users = world.conn_users[:sockets]
    specs = [
        {
            "key": u,
            "cookie": world.cookies[u],
            "server": world.conn_server_of[u][0],
            "channel": world.conn_server_of[u][1],
        }
        for u in users
    ]
    await asyncio.sleep(0.5)
    before = await snapshot(server, "before")
    rss0 = server.rss_bytes()
    async with loadgens(1, "light") as gens:
        await connect_all(gens, server.url, [specs], conc=50)
        await asyncio.sleep(1.0)
        after = await snapshot(server, "after")
        rss1 = server.rss_bytes()
    sites = await asyncio.to_thread(top_sites, before, after, top, sockets, str(root))
    return {
        "sockets": sockets,
        "rss_before_mb": round(rss0 / 2**20, 1),
        "rss_after_mb": round(rss1 / 2**20, 1),
        "rss_kib_per_connection": round((rss1 - rss0) / sockets / 1024, 1),
        "trace_frames": TRACE_FRAMES,
        **sites,
    }
