"""Run Zizany for the bench: `create_app(settings)` under uvicorn, as `zizany serve` does.

Settings come from `ZIZANY_*` variables (the bench sets the database, the secret, the rate
limit and emit validation). Until Socket.IO is mounted into `create_app`, the real-time
side is put around it here the way tests/realtime/conftest.py does.

`BENCH_PATCHES=name,name` applies in-process experiments from bench/patches.py (to measure
a proposed change without editing the service).
"""

from __future__ import annotations

import argparse
import os
import resource
from typing import Any

import uvicorn

from service.app import create_app
from service.db.engine import create_engine, session_factory
from service.realtime.direct import DirectWritesProtocol
from service.realtime.server import Realtime, RealtimeASGI
from service.settings import Settings, resolve_secret_key


def build_app(settings: Settings) -> Any:
    """The whole service: REST and Socket.IO on one port."""
    app: Any = create_app(settings)
    if isinstance(app, RealtimeASGI):
        return app
    engine = create_engine(settings)
    rt = Realtime(
        settings=settings, sessionmaker=session_factory(engine), secret=resolve_secret_key(settings)
    )
    return rt.asgi(app)


def main() -> None:
    """Serve on 127.0.0.1:`--port` with the options of `zizany serve`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    patches = [p for p in os.environ.get("BENCH_PATCHES", "").split(",") if p]
    if patches:
        from bench import patches as patch_module

        patch_module.apply(patches)
    uvicorn.run(
        build_app(Settings()),
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
