"""Run Zizany for the bench: `create_app(settings)` under uvicorn, as `zizany serve` does.

Settings come from `ZIZANY_*` variables (the bench sets the database, the secret, the rate
limit and emit validation). `--workers N` runs `zizany serve --workers N` instead (the
service's own supervisor: N processes on one port, Redis between them).

`BENCH_PATCHES=name,name` applies in-process experiments from bench/patches.py (to measure
a proposed change without editing the service). `BENCH_TRACEMALLOC=<frames>` starts
tracemalloc before the app is built and answers `GET /__bench/tracemalloc/<name>` by
dumping a snapshot into `BENCH_TRACEMALLOC_DIR` (the memory probe, bench/memory.py).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import resource
import tracemalloc
from pathlib import Path
from typing import Any

import uvicorn

from service import workers
from service.app import create_app
from service.collector import tune_collector
from service.realtime.direct import DirectWritesProtocol
from service.settings import Settings

SNAPSHOT_PATH = re.compile(r"/__bench/tracemalloc/([a-z0-9-]{1,40})")


def with_snapshots(app: Any, directory: Path) -> Any:
    """`app`, answering `GET /__bench/tracemalloc/<name>` with a snapshot dumped to a file."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = SNAPSHOT_PATH.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await app(scope, receive, send)
            return
        gc.collect()
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        path = directory / f"{match.group(1)}-{os.getpid()}.snap"
        snap.dump(str(path))
        body = str(path).encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi


def build_app(settings: Settings) -> Any:
    """The whole service: REST and Socket.IO on one port."""
    app: Any = create_app(settings)
    directory = os.environ.get("BENCH_TRACEMALLOC_DIR")
    if tracemalloc.is_tracing() and directory:
        app = with_snapshots(app, Path(directory))
    return app


def main() -> None:
    """Serve on 127.0.0.1:`--port` with the options of `zizany serve`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, help="`zizany serve --workers N`")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    frames = os.environ.get("BENCH_TRACEMALLOC")
    if frames:
        tracemalloc.start(int(frames))
    patches = [p for p in os.environ.get("BENCH_PATCHES", "").split(",") if p]
    if patches:
        from bench import patches as patch_module

        patch_module.apply(patches)
    if args.workers is not None:
        raise SystemExit(
            workers.serve(Settings(), host="127.0.0.1", port=args.port, workers=args.workers)
        )
    app = build_app(Settings())
    tune_collector()  # as `zizany serve` does (service.workers)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        # BENCH_WS: an experiment with another of uvicorn's WebSocket implementations.
        ws=os.environ.get("BENCH_WS") or DirectWritesProtocol,
        ws_per_message_deflate=False,
        lifespan="on",
        log_level="warning",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
