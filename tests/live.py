"""A live uvicorn server in a background thread, for tests that talk to it over real sockets.

The server thread itself is the conformance runner's (`conformance.target.ServerThread`);
tests add running coroutines on the server's loop from the test's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from conformance.target import ServerThread

T = TypeVar("T")


class LiveServer(ServerThread):
    """Runs an ASGI app on 127.0.0.1 (a free port) in its own thread and event loop."""

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the server's loop (from the test's thread); return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextlib.contextmanager
def serve(app: Any) -> Iterator[LiveServer]:
    """A started LiveServer for the duration of the block."""
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()
