"""A Zizany server under test, started in this process on a free port over a fresh SQLite file.

The runner itself only needs a URL (and, for the database checks, a database it may read);
this module is how `python -m conformance` and the tests get one. It also offers what only
a local server allows: a fingerprint of the database (to show that invalid input changes
nothing) and a storage fault (so the run can see the contract's answer to one).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, Self

import uvicorn
from sqlalchemy import MetaData, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.app import create_app
from service.db.engine import create_engine
from service.db.tables import MessageRow
from service.realtime.assembly import Implementations
from service.realtime.direct import DirectWritesProtocol
from service.settings import Settings

# Tables whose rows change without a client asking (rolling session expiry, migrations).
VOLATILE_TABLES = frozenset({"sessions", "alembic_version"})


def local_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a server under test: strict emits, cheap hashing, a reachable rate limit."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "strict_emits": True,
        "argon2_time_cost": 1,
        "argon2_memory_cost": 1024,
        "login_max_failures": 100_000,
        "message_rate_limit": 40,
        "message_rate_window_seconds": 10,
        # Long, so no typing state expires in the middle of a step (expiry is its own check).
        "typing_timeout_seconds": 600,
        # Short, so a step that connects or disconnects settles quickly; coalescing still
        # applies (its own test runs with the default interval).
        "presence_interval_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


def full_app(settings: Settings, implementations: Implementations | None = None) -> Any:
    """REST and Socket.IO on one port and login: `create_app(settings)`, exactly as
    `zizany serve` runs it; `implementations` swaps a part of the real-time side for a
    deliberately broken one (the self-tests)."""
    return create_app(settings, implementations=implementations)


class ServerThread:
    """Runs an ASGI app on 127.0.0.1 (a free port) in its own thread and event loop."""

    def __init__(
        self, app: Any, on_exit: Callable[[], Coroutine[Any, Any, None]] | None = None
    ) -> None:
        self._on_exit = on_exit
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            ws=DirectWritesProtocol,
            ws_per_message_deflate=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="conformance-server", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        if self._on_exit is not None:
            self.loop.run_until_complete(self._on_exit())
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def start(self) -> Self:
        """Serve; returns once connections are accepted."""
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server under test did not start")
            time.sleep(0.01)
        return self

    @property
    def alive(self) -> bool:
        """Whether the server thread still runs."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=20)
        with contextlib.suppress(OSError):
            self._sock.close()


class LocalTarget:
    """A server under test in this process, with read access to its database."""

    def __init__(
        self,
        data_dir: Path,
        *,
        implementations: Implementations | None = None,
        **overrides: Any,
    ) -> None:
        self.settings = local_settings(data_dir, **overrides)
        self.implementations = implementations
        self._thread: ServerThread | None = None
        self._reader: AsyncEngine | None = None

    @property
    def url(self) -> str:
        """The base URL."""
        assert self._thread is not None, "not started"
        return self._thread.url

    @property
    def alive(self) -> bool:
        """Whether the server is still running."""
        return self._thread is not None and self._thread.alive

    def start(self) -> LocalTarget:
        """Build the app and serve it."""
        # The app's lifespan closes its database connections on the server's loop.
        self._thread = ServerThread(full_app(self.settings, self.implementations))
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the database connections."""
        if self._thread is not None:
            self._thread.stop()

    # ---- what only a local server allows -----------------------------------------------------

    def _engine(self) -> AsyncEngine:
        if self._reader is None:
            self._reader = create_engine(self.settings)
        return self._reader

    async def close_reader(self) -> None:
        """Dispose the runner's own connection to the database (on the runner's loop)."""
        if self._reader is not None:
            await self._reader.dispose()
            self._reader = None

    async def fingerprint(self, ignore: Iterable[str] = VOLATILE_TABLES) -> str:
        """A hash of every row of every table but the volatile ones."""
        skip = set(ignore)
        digest = hashlib.sha256()
        async with self._engine().connect() as conn:
            meta = MetaData()
            await conn.run_sync(meta.reflect)
            for name in sorted(meta.tables):
                if name in skip:
                    continue
                table = meta.tables[name]
                rows = (await conn.execute(select(table).order_by(*table.columns))).all()
                digest.update(name.encode())
                for row in rows:
                    digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    @contextlib.asynccontextmanager
    async def storage_fault(self) -> AsyncIterator[None]:
        """While inside, every write to the messages table fails (a storage failure)."""
        table = MessageRow.__tablename__
        names = [f"conformance_fault_{op.lower()}" for op in ("INSERT", "UPDATE", "DELETE")]
        async with self._engine().begin() as conn:
            for name, op in zip(names, ("INSERT", "UPDATE", "DELETE"), strict=True):
                await conn.execute(
                    text(
                        f"CREATE TRIGGER {name} BEFORE {op} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, 'conformance: injected storage fault'); END"
                    )
                )
        try:
            yield
        finally:
            async with self._engine().begin() as conn:
                for name in names:
                    await conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
