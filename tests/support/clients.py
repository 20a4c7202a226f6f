"""Real clients of a live server: Socket.IO clients that record what they receive, HTTP
clients of signed-up people (each with its own cookie jar), and waiting for what they see."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import uuid
from dataclasses import dataclass
from typing import Any, Self

import httpx
import socketio

PASSWORD = "correct-horse-battery"

# Made once: building a TLS context per client (httpx's default) costs ~25 ms, and the
# tests make hundreds of plain-HTTP clients.
_TLS = ssl.create_default_context()
_numbers = itertools.count(1)


def expect(response: httpx.Response, status: int, code: str | None = None) -> Any:
    """Assert the status (and the error code); return the JSON body (None when empty)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: "
        f"expected {status}, got {response.status_code} {response.text}"
    )
    if code is not None:
        assert response.json()["code"] == code, response.text
    return response.json() if response.content else None


@dataclass
class Person:
    """A signed-up user and an HTTP client that carries their session cookie."""

    id: int
    username: str
    email: str
    http: httpx.AsyncClient


class Api:
    """Makes clients and people for one live deployment; closes them all at the end."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._clients: list[httpx.AsyncClient] = []

    def client(self, **options: Any) -> httpx.AsyncClient:
        """A fresh client (its own cookie jar) for the deployment."""
        client = httpx.AsyncClient(base_url=self.base_url, timeout=30, verify=_TLS, **options)
        self._clients.append(client)
        return client

    async def person(self, name: str = "user") -> Person:
        """Sign up a new user (unique email) and keep the signed-in client."""
        number = next(_numbers)
        username = f"{name}{number}"[:24]
        email = f"{name}.{uuid.uuid4().hex[:12]}@example.com"
        http = self.client()
        body = expect(
            await http.post(
                "/api/auth/signup",
                json={"username": username, "email": email, "password": PASSWORD},
            ),
            201,
        )
        return Person(id=body["user"]["id"], username=username, email=email, http=http)

    async def aclose(self) -> None:
        """Close every client made."""
        for client in self._clients:
            await client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


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


async def join(client: RecordingClient, server_id: int, channel_id: int | None = None) -> None:
    """Join the server room (and the channel room) and wait for the answers."""
    ack = await client.call("server:join", {"serverId": server_id})
    assert ack["ok"] is True, ack
    if channel_id is not None:
        ack = await client.call("channel:join", {"channelId": channel_id})
        assert ack["ok"] is True, ack


async def quiet(client: RecordingClient, event: str, seconds: float) -> list[Any]:
    """Wait `seconds`, then return the payloads of `event` received (for "nothing came")."""
    await asyncio.sleep(seconds)
    return client.named(event)


async def eventually(check: Any, timeout: float, interval: float = 0.1) -> Any:
    """Call the async `check` until it returns something truthy; that value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"not true within {timeout} s: {check}")
        await asyncio.sleep(interval)
