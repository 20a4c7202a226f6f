"""Live servers for the client tests: the whole app (or the mock) on a port known before the
app is built, so its own origin can be the only allowed one; a plain page server for a
foreign origin; and the Node.js tools (playwright-core, tsc) the tests drive."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import need
from tests.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
CHROMIUM = Path("/usr/bin/chromium")


class _Later:
    """An ASGI app that is built once the server's port is known."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@contextlib.contextmanager
def serve_built(build: Callable[[str], ASGIApp]) -> Iterator[LiveServer]:
    """Serve `build(origin)` on a free loopback port; `origin` is `http://127.0.0.1:<port>`."""
    later = _Later()
    server = LiveServer(later)
    later.app = build(server.url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


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


def need_node(*packages: str) -> None:
    """Skip without Node.js or an npm package (fail instead when CI=true)."""
    need(shutil.which("node") is not None, "node is not installed")
    for package in packages:
        need((NODE_MODULES / package).is_dir(), f"{package} is not installed: run `npm ci`")


def need_chromium() -> None:
    """Skip without Debian's chromium (fail instead when CI=true: .ci/run installs it)."""
    need(CHROMIUM.is_file(), "chromium is not installed: apt-get install -y chromium")
    need_node("playwright-core")


def run_node(args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `node args…` from the repository root; output captured as text."""
    return subprocess.run(
        ["node", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
