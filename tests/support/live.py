"""Live servers in the test's process: the app under uvicorn on a free loopback port.

`serve(app)` runs an ASGI app in a background thread (the thread is the conformance
runner's `conformance.target.ServerThread`); `LiveServer.call` runs a coroutine on the
server's loop from the test's thread. `serve_built` serves an app built once its port is
known (so its own origin can be the only allowed one); `serve_pages` is a plain page
server for a foreign origin; `free_port` a port for a server in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Protocol, Self, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.target import ServerThread

T = TypeVar("T")


class Startable(Protocol):
    """A server started and stopped from the test's thread."""

    def start(self) -> Self: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer(ServerThread):
    """Runs an ASGI app on 127.0.0.1 (a free port) in its own thread and event loop."""

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the server's loop (from the test's thread); return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextlib.contextmanager
def running(server: S) -> Iterator[S]:
    """The server started for the duration of the block, stopped after it."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def serve(app: Any) -> contextlib.AbstractContextManager[LiveServer]:
    """A started LiveServer of `app` for the duration of the block."""
    return running(LiveServer(app))


class _Later:
    """An ASGI app that is built once the server's port is known."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


def serve_built(build: Callable[[str], ASGIApp]) -> contextlib.AbstractContextManager[LiveServer]:
    """Serve `build(origin)` on a free loopback port; `origin` is `http://127.0.0.1:<port>`."""
    later = _Later()
    server = LiveServer(later)
    later.app = build(server.url)
    return running(server)


@contextlib.contextmanager
def serve_pages(pages: dict[str, tuple[bytes, str]]) -> Iterator[str]:
    """A plain HTTP server on another loopback port: path → (body, content type)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = pages.get(self.path, (b"not found", "text/plain"))
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="foreign-pages", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
