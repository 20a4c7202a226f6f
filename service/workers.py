"""Running Zizany: one process, or `workers` processes sharing one port (needs Redis).

With several workers the parent binds the port once and hands the listening socket to
each worker (spawned, not forked), then watches them: a worker that dies is started
again under the same identity (`{instance}/w{n}`), so it clears the presence leases of
its previous life at once instead of waiting for them to expire. The parent passes
SIGINT/SIGTERM on as SIGTERM (graceful shutdown, service.shutdown) and waits for the
workers until `ZIZANY_SHUTDOWN_TIMEOUT_SECONDS` have passed, then kills what is left
(each worker's own budget is a second shorter, so it normally ends first).

Long-polling needs every request of a Socket.IO session to reach the same process:
behind a load balancer, use sticky sessions (or WebSocket-only clients). Within one
host the kernel spreads connections over the workers; a long-polling client can then
land on another worker, so `--workers N` is for WebSocket clients, or put each worker
on its own port behind a sticky load balancer instead.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

from service.app import create_app
from service.collector import tune_collector
from service.logs import configure_logging
from service.metrics import MULTIPROC_ENV
from service.realtime.direct import DirectWritesProtocol
from service.settings import Settings
from service.shutdown import Drainable, GracefulServer
from service.transport.deadlines import with_read_deadline

log = logging.getLogger("zizany.workers")

AppFactory = Callable[[Settings], Any]
STARTUP_FAILED = 3  # the exit status when the app did not start (as `uvicorn` exits)
# A worker that dies sooner than this after starting is restarted only after this delay.
RESTART_BACKOFF_SECONDS = 1.0
# A worker's shutdown budget is the supervisor's less this (at least half of it).
SUPERVISOR_MARGIN_SECONDS = 1.0


def _default_factory(settings: Settings) -> Any:
    return create_app(settings)


def base_instance_id(settings: Settings, port: int) -> str:
    """The configured instance id (`ZIZANY_INSTANCE_ID`), else `host:port`."""
    return settings.instance_id or f"{socket.gethostname()}:{port}"


def with_instance_id(settings: Settings, instance_id: str) -> Settings:
    """The settings of a process known as `instance_id` (it names its presence leases)."""
    return settings.model_copy(update={"instance_id": instance_id})


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int = 1,
    app_factory: AppFactory = _default_factory,
) -> int:
    """Serve until stopped; the exit status. Several workers need `ZIZANY_REDIS_URL`."""
    host = host or settings.host
    port = port if port is not None else settings.port
    if workers < 1:
        print(f"zizany: --workers must be at least 1, got {workers!r}", file=sys.stderr)
        return 2
    if workers > 1 and settings.redis_url is None:
        print(
            "zizany: --workers needs ZIZANY_REDIS_URL: the processes share presence, "
            "typing, rate limits and broadcasts through Redis",
            file=sys.stderr,
        )
        return 2
    instance = base_instance_id(settings, port)
    if workers == 1:
        started = _run_worker(settings, host, port, instance, None, app_factory)
        return 0 if started else STARTUP_FAILED
    return _supervise(settings, host, port, instance, workers, app_factory)


def _config(app: Any, settings: Settings, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        # A read deadline and a cap on connections: service.transport.deadlines, README.
        http=with_read_deadline(settings.request_read_timeout_seconds),
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        limit_concurrency=settings.max_connections,
        ws=DirectWritesProtocol,  # frames written once per broadcast (service.realtime.direct)
        ws_per_message_deflate=False,
        lifespan="on",
        log_level=settings.log_level.lower(),
        # uvicorn's loggers propagate to the handler service.logs installed: one format.
        log_config=None,
        # What service.shutdown leaves to uvicorn; it sets the time left when it gets there.
        timeout_graceful_shutdown=max(1, int(settings.shutdown_timeout_seconds)),
    )


def _run_worker(
    settings: Settings,
    host: str,
    port: int,
    instance_id: str,
    sock: socket.socket | None,
    app_factory: AppFactory,
) -> bool:
    """Build the app as `instance_id` and serve it (on `sock` when given); whether it started
    (a lifespan that fails, e.g. on an unmigrated database, stops it before serving)."""
    settings = with_instance_id(settings, instance_id)
    if sock is not None:  # a spawned worker: configure logging like the CLI does
        configure_logging(settings.log_level, settings.log_format, instance=instance_id)
    app = app_factory(settings)
    tune_collector()
    drainable: Drainable | None = app if hasattr(app, "begin_draining") else None
    server = GracefulServer(
        _config(app, settings, host, port), drainable, timeout=settings.shutdown_timeout_seconds
    )
    # uvicorn raises the signal it stopped on again once it is done; the shutdown was
    # graceful by then, so it ends the process with status 0 instead of killing it.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _after_shutdown)
    server.run(sockets=[sock] if sock is not None else None)
    return server.started


def _worker_main(
    settings: Settings,
    host: str,
    port: int,
    instance_id: str,
    sock: socket.socket,
    app_factory: AppFactory,
) -> None:
    """A spawned worker: serve, then end the process at once.

    Everything was closed by the shutdown; the interpreter's own teardown (about a second
    for this many modules, and once seen hanging past the supervisor's bound) is skipped.
    """
    started = _run_worker(settings, host, port, instance_id, sock, app_factory)
    logging.shutdown()
    os._exit(0 if started else STARTUP_FAILED)


def _after_shutdown(signum: int, _frame: FrameType | None) -> None:
    log.debug("signal %d handled by the graceful shutdown", signum)


def _supervise(
    settings: Settings,
    host: str,
    port: int,
    instance: str,
    workers: int,
    app_factory: AppFactory,
) -> int:
    """Bind once, spawn the workers, restart the ones that die, stop them on a signal."""
    multiprocessing.allow_connection_pickling()
    spawn = multiprocessing.get_context("spawn")
    sock = _config(None, settings, host, port).bind_socket()
    stopping = False
    stopped_at = 0.0
    metrics_dir = _metrics_dir(settings)
    budget = settings.shutdown_timeout_seconds
    worker_settings = settings.model_copy(
        update={"shutdown_timeout_seconds": max(budget / 2, budget - SUPERVISOR_MARGIN_SECONDS)}
    )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping, stopped_at
        if not stopping:
            stopped_at = time.monotonic()
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)

    def start(index: int) -> tuple[BaseProcess, float]:
        process = spawn.Process(
            target=_worker_main,
            args=(worker_settings, host, port, f"{instance}/w{index}", sock, app_factory),
            name=f"zizany-w{index}",
        )
        process.start()
        log.info("worker %d started (pid %s) as %s/w%d", index, process.pid, instance, index)
        return process, time.monotonic()

    running = {index: start(index) for index in range(workers)}
    log.info("serving on http://%s:%d with %d workers", host, port, workers)
    try:
        while not stopping:
            time.sleep(0.2)
            for index, (process, started) in list(running.items()):
                if process.is_alive() or stopping:
                    continue
                log.error("worker %d (pid %s) exited with %s", index, process.pid, process.exitcode)
                process.join()
                if metrics_dir is not None and process.pid is not None:
                    _forget_worker_gauges(process.pid)
                if time.monotonic() - started < RESTART_BACKOFF_SECONDS:
                    time.sleep(RESTART_BACKOFF_SECONDS)
                running[index] = start(index)
    finally:
        for process, _ in running.values():
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker's graceful shutdown
        deadline = (stopped_at or time.monotonic()) + budget
        for process, _ in running.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker pid %s did not stop in %.1f s: killed", process.pid, budget)
                process.kill()
                process.join()
        sock.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)
    return 0


def _metrics_dir(settings: Settings) -> str | None:
    """A fresh PROMETHEUS_MULTIPROC_DIR for the workers when metrics are on (else None).

    Set in the environment before the workers are spawned: prometheus-client picks its
    multiprocess mode when a worker first imports it. Removed when the supervisor stops,
    so a restart never adds up the samples of a previous run.
    """
    if not settings.metrics:
        return None
    path = tempfile.mkdtemp(prefix="zizany-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path


def _forget_worker_gauges(pid: int) -> None:
    """A dead worker's live gauges (connected sockets) stop counting; its counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
