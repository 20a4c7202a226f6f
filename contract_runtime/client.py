"""Runtime support for the generated client (`generated.realtime.client.ZizanyClient`).

A python-socketio AsyncClient that connects with the REST session cookie, sends client
events with an acknowledgement and checks every reply and every server event against
the contract's models before any caller sees it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Self, TypeAlias, TypeVar

import pydantic
import socketio
from pydantic import BaseModel

from contract_runtime.schemas import dump

log = logging.getLogger("zizany.client")

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)

Handler: TypeAlias = Callable[[M], Awaitable[None] | None]
"""A function (or coroutine function) that takes the payload model of one server event."""

Transport = Literal["websocket", "polling"]


class ConnectionRefused(ConnectionError):
    """The server refused the connection; `code` is its `connect_error` message."""

    def __init__(self, code: str) -> None:
        super().__init__(f"connection refused: {code}")
        self.code = code


class Disconnected(ConnectionError):
    """The connection ended (or never started) while waiting for an event."""


class OffSpecData(Exception):
    """The server sent an ack or an event that does not match the contract."""

    def __init__(self, event: str, data: Any, problem: str) -> None:
        super().__init__(f"{event}: {problem}")
        self.event = event
        self.data = data


class Received(NamedTuple):
    """One server event: its name and its validated payload model."""

    event: str
    payload: BaseModel


class ClientBase:
    """Connection, acknowledged calls, handlers and the inbox of received events."""

    EVENTS: Mapping[str, type[BaseModel]] = {}
    """The payload model of each server → client event (the generated subclass sets it)."""
    COOKIE_NAME = ""
    """The session cookie's name, from the spec's security scheme."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        inbox_size: int = 10_000,
        sio: socketio.AsyncClient | None = None,
    ) -> None:
        self.sio = sio if sio is not None else socketio.AsyncClient(reconnection=False)
        self.timeout = timeout
        self.off_spec: list[OffSpecData] = []
        self.dropped = 0
        self._inbox: deque[Received] = deque()
        self._inbox_size = inbox_size
        self._changed = asyncio.Condition()
        self._dispatching = asyncio.Lock()
        self._handlers: dict[str, list[Handler[Any]]] = {event: [] for event in self.EVENTS}
        self._closed = True
        self._refusal: str | None = None
        self.sio.on("connect", handler=self._connected)
        self.sio.on("disconnect", handler=self._disconnected)
        self.sio.on("connect_error", handler=self._refused)
        for event, model in self.EVENTS.items():
            self.sio.on(event, handler=self._receiver(event, model))

    # ---- connection -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the socket is connected now."""
        return bool(self.sio.connected)

    async def connect(
        self,
        url: str,
        *,
        cookie: str,
        transports: Sequence[Transport] = ("websocket", "polling"),
        headers: Mapping[str, str] | None = None,
        socketio_path: str = "socket.io",
        wait_timeout: float = 10.0,
    ) -> None:
        """Connect to `url` (e.g. `http://localhost:4000`) with the session cookie's value.

        Raises ConnectionRefused (with the server's code, e.g. `E_UNAUTHORIZED`) when the
        server refuses the session or the origin.
        """
        sent = dict(headers or {})
        sent["Cookie"] = f"{self.COOKIE_NAME}={cookie}"
        self._refusal = None
        try:
            await self.sio.connect(
                url,
                headers=sent,
                transports=list(transports),
                socketio_path=socketio_path,
                wait_timeout=wait_timeout,
            )
        except socketio.exceptions.ConnectionError as exc:
            await self._release()
            if self._refusal is not None:
                raise ConnectionRefused(self._refusal) from exc
            raise
        except BaseException:
            await self._release()
            raise

    async def disconnect(self) -> None:
        """Disconnect (if connected) and release the HTTP session."""
        if self.sio.connected:
            await self.sio.disconnect()
        await self._release()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    async def _release(self) -> None:
        # A refused or ended connection can leave engine.io's aiohttp session open.
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    async def _connected(self) -> None:
        self._closed = False

    async def _disconnected(self, *reason: Any) -> None:
        self._closed = True
        async with self._changed:
            self._changed.notify_all()

    async def _refused(self, data: Any = None) -> None:
        # A Socket.IO CONNECT_ERROR from the server is `{"message": code}`; anything else is
        # a transport failure (no server, HTTP error), which stays a plain ConnectionError.
        message = data.get("message") if isinstance(data, dict) else None
        if isinstance(message, str):
            self._refusal = message

    # ---- client → server ------------------------------------------------------------

    async def _call(
        self, event: str, payload: BaseModel, reply: type[R], seconds: float | None
    ) -> R:
        """Emit `event` with an ack; return the ack parsed as `reply` (the Ok | error union).

        Waits `seconds` for the ack (None: the client's `timeout`).
        """
        wait = self.timeout if seconds is None else seconds
        try:
            data = await self.sio.call(event, dump(payload), timeout=wait)
        except socketio.exceptions.TimeoutError:
            raise TimeoutError(f"no acknowledgement of {event!r} within {wait} s") from None
        try:
            return reply.model_validate(data)
        except pydantic.ValidationError as exc:
            problem = OffSpecData(f"ack:{event}", data, str(exc))
            self.off_spec.append(problem)
            raise problem from None

    # ---- server → client ------------------------------------------------------------

    def _subscribe(self, event: str, handler: Handler[Any]) -> None:
        self._handlers[event].append(handler)

    def _receiver(self, event: str, model: type[BaseModel]) -> Callable[..., Awaitable[None]]:
        async def receive(*args: Any) -> None:
            if len(args) != 1:
                self._off_spec(event, args, f"expected one payload argument, got {len(args)}")
                return
            try:
                payload = model.model_validate(args[0])
            except pydantic.ValidationError as exc:
                self._off_spec(event, args[0], str(exc))
                return
            if len(self._inbox) >= self._inbox_size:
                self._inbox.popleft()
                self.dropped += 1
            self._inbox.append(Received(event, payload))
            # One event's handlers finish before the next event's start (the lock is FIFO).
            async with self._dispatching:
                async with self._changed:
                    self._changed.notify_all()
                for handler in self._handlers[event]:
                    try:
                        result = handler(payload)
                        if inspect.isawaitable(result):
                            await result
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("a handler of %s failed", event)

        receive.__name__ = f"receive_{event}"
        return receive

    def _off_spec(self, event: str, data: Any, problem: str) -> None:
        log.error("the server sent an off-spec %s: %s", event, problem)
        self.off_spec.append(OffSpecData(event, data, problem))

    def pending(self) -> list[Received]:
        """The received events nobody has taken yet with `wait_for` or `events`, oldest first."""
        return list(self._inbox)

    async def _take(
        self, event: str | None, where: Callable[[Any], bool] | None, seconds: float | None
    ) -> Received:
        def pop() -> Received | None:
            for item in self._inbox:
                if (event is None or item.event == event) and (
                    where is None or where(item.payload)
                ):
                    self._inbox.remove(item)
                    return item
            return None

        async def wait() -> Received:
            async with self._changed:
                while True:
                    found = pop()
                    if found is not None:
                        return found
                    if self._closed:
                        raise Disconnected(f"not connected while waiting for {event or 'events'}")
                    await self._changed.wait()

        if seconds is None:
            return await wait()
        try:
            return await asyncio.wait_for(wait(), seconds)
        except TimeoutError:
            raise TimeoutError(f"no {event or 'event'} within {seconds} s") from None

    async def _wait_for(
        self, event: str, where: Callable[[Any], bool] | None, seconds: float | None
    ) -> BaseModel:
        if event not in self.EVENTS:
            raise ValueError(f"{event!r} is not a server → client event of the contract")
        wait = self.timeout if seconds is None else seconds
        return (await self._take(event, where, wait)).payload

    async def events(self) -> AsyncIterator[Received]:
        """Every received event not taken by `wait_for`, in arrival order, until disconnected."""
        while True:
            try:
                yield await self._take(None, None, None)
            except Disconnected:
                return
