"""Real python-socketio clients that record every event they receive."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio


class RecordingClient:
    """An AsyncClient that keeps every (event, payload) it receives, in order."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.connect_error: Any = None
        self._arrived = asyncio.Event()

        self.sio.on("*", handler=self._record)
        self.sio.on("connect_error", handler=self._refused)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        self._arrived.set()

    async def _refused(self, data: Any) -> None:
        self.connect_error = data

    async def connect(
        self, url: str, *, headers: dict[str, str] | None = None, transport: str = "websocket"
    ) -> None:
        """Connect (raises socketio.exceptions.ConnectionError when refused)."""
        try:
            await self.sio.connect(
                url, headers=headers or {}, transports=[transport], wait_timeout=10
            )
        except Exception:
            await self._release()
            raise

    async def _release(self) -> None:
        """Close the HTTP session a refused connection leaves open."""
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    async def call(self, event: str, payload: Any, timeout: float = 10) -> Any:
        """Emit with an ack callback and return the ack."""
        return await self.sio.call(event, payload, timeout=timeout)

    async def emit(self, event: str, payload: Any) -> None:
        """Emit without an ack."""
        await self.sio.emit(event, payload)

    def named(self, event: str) -> list[Any]:
        """The payloads received for one event name."""
        return [data for name, data in self.events if name == event]

    async def wait_for(self, event: str, count: int = 1, timeout: float = 10) -> list[Any]:
        """Wait until `count` payloads of `event` arrived; return them all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.named(event)) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{event} x{count} not received; got {self.events!r}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                continue
        return self.named(event)

    async def close(self) -> None:
        """Disconnect if connected."""
        if self.sio.connected:
            await self.sio.disconnect()
        await self._release()
