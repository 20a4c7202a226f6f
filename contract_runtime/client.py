"""Runtime support for the generated client (`generated.realtime.client.ZizanyClient`).

A python-socketio AsyncClient that connects with the REST session cookie, sends client
events with an acknowledgement and checks every reply and every server event against
the contract's models before any caller sees it.

With `reconnect=True` it also survives a lost connection without missing what the
contract lets it fetch again: Socket.IO reconnects (a new connection is in no room),
the client sends the room commands that had succeeded again (`ROOM_COMMANDS`, from the
spec's `x-socketio-enters` / `x-socketio-leaves`), then fetches over REST every event of
a rejoined room that it missed (`CATCH_UP`, from `x-catch-up`) and delivers those, in key
order and each once, before the live events that arrived meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Self, TypeAlias, TypeVar

import aiohttp
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


class CatchUpFailed(Exception):
    """The REST operation that lists what a room missed did not answer a page."""


@dataclass(frozen=True, slots=True)
class RoomCommand:
    """A client event whose success puts this socket in a room, or takes it out of one."""

    room: str
    """The room's address template, e.g. `channel:{channelId}`."""
    param: str
    """The room's parameter: also the payload field that names the room."""
    enters: bool
    reply: type[BaseModel]
    """The event's reply model (the ok | error union)."""

    def room_of(self, data: Mapping[str, Any]) -> str | None:
        """The room a payload names, or None when it names none."""
        value = data.get(self.param)
        return None if value is None else self.room.format(**{self.param: value})


@dataclass(frozen=True, slots=True)
class CatchUp:
    """How to list the events a room was sent while this client was away (`x-catch-up`)."""

    room: str
    """The address template of the room the event goes to."""
    param: str
    """The room's parameter, also the REST path's."""
    field: str
    """The payload field that holds the room's parameter (e.g. `channel_id`)."""
    path: str
    """The REST path of the listing operation, e.g. `/api/channels/{channelId}/messages`."""
    key: str
    """The payload field that orders and identifies the events (e.g. `id`)."""
    items: str
    after: str
    next_after: str
    before: str
    next_before: str
    limit: str
    page_size: int = 50

    def room_of(self, data: Mapping[str, Any]) -> str | None:
        """The room an event's payload names, or None when it names none."""
        value = data.get(self.field)
        return None if value is None else self.room.format(**{self.param: value})


@dataclass(slots=True)
class _Joined:
    event: str
    command: RoomCommand
    data: dict[str, Any]


MAX_CATCH_UP = 100_000
"""At most this many missed events are fetched for one room after one reconnect."""
RECENT_KEYS = 4096
"""The keys remembered per room to drop an event that arrives twice (live and fetched)."""


class ClientBase:
    """Connection, acknowledged calls, handlers and the inbox of received events."""

    EVENTS: Mapping[str, type[BaseModel]] = {}
    """The payload model of each server → client event (the generated subclass sets it)."""
    COOKIE_NAME = ""
    """The session cookie's name, from the spec's security scheme."""
    ROOM_COMMANDS: Mapping[str, RoomCommand] = {}
    """The client events that enter or leave a room, by event name."""
    CATCH_UP: Mapping[str, CatchUp] = {}
    """The room events a reconnected client fetches what it missed of, by event name."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        inbox_size: int = 10_000,
        reconnect: bool = False,
        reconnect_delay: float = 0.5,
        sio: socketio.AsyncClient | None = None,
    ) -> None:
        """`reconnect=True`: reconnect by itself, rejoin its rooms and catch up (see above).

        The first attempt comes `reconnect_delay` seconds after the connection was lost,
        each next one twice as late, at most 5 s (or `reconnect_delay`) apart.
        """
        self.sio = (
            sio
            if sio is not None
            else socketio.AsyncClient(
                reconnection=reconnect,
                reconnection_delay=reconnect_delay,
                reconnection_delay_max=max(5.0, reconnect_delay),
            )
        )
        self.reconnect = reconnect
        self.timeout = timeout
        self.catch_up_failures = 0
        """Rooms whose missed events could not be fetched after a reconnect (each logged)."""
        self.caught_up = 0
        """Events delivered by a catch-up after a reconnect (fetched, not received live)."""
        self._rooms: dict[str, _Joined] = {}
        self._cursors: dict[str, int] = {}
        self._recent: dict[str, set[int]] = {}
        self._held: deque[tuple[str, BaseModel]] = deque()
        self._holding = False
        self._resuming: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._ever_connected = False
        self._url = ""
        self._cookie = ""
        self._rest: aiohttp.ClientSession | None = None
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
        # python-socketio's own event for "disconnected and not reconnecting" (its
        # SimpleClient uses it too); with reconnection off it follows every disconnect.
        self.sio.on("__disconnect_final", handler=self._ended)
        self.sio.on("connect_error", handler=self._refused)
        for event, model in self.EVENTS.items():
            self.sio.on(event, handler=self._receiver(event, model))

    # ---- connection -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the socket is connected now."""
        return bool(self.sio.connected)

    @property
    def joined_rooms(self) -> list[str]:
        """The rooms this client's room commands put it in (rejoined after a reconnect)."""
        return list(self._rooms)

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
        self._url, self._cookie = url.rstrip("/"), cookie
        try:
            await self.sio.connect(
                url,
                # A fresh dict per attempt: engine.io moves the Cookie header out of the
                # dict it is given, so a reconnect would go without the session.
                headers=lambda: dict(sent),
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
        """Disconnect (if connected, or stop reconnecting) and release the HTTP sessions."""
        await self._stop_resuming()
        await self.sio.shutdown()
        self._rooms.clear()
        self._cursors.clear()
        self._recent.clear()
        self._held.clear()
        self._holding = self._ever_connected = False
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
        if self._rest is not None:
            await self._rest.close()
            self._rest = None

    async def _connected(self) -> None:
        self._closed = False
        if self._ever_connected and self.reconnect:
            # A new connection is in no room: hold the live room events that have a catch-up
            # until what was missed is delivered.
            self._holding = bool(self.CATCH_UP)
            self._resuming = asyncio.create_task(self._resume())
        self._ever_connected = True

    async def _disconnected(self, *reason: Any) -> None:
        await self._stop_resuming()

    async def _ended(self) -> None:
        self._closed = True
        async with self._changed:
            self._changed.notify_all()

    async def _refused(self, data: Any = None) -> None:
        # A Socket.IO CONNECT_ERROR from the server is `{"message": code}`; anything else is
        # a transport failure (no server, HTTP error), which stays a plain ConnectionError.
        message = data.get("message") if isinstance(data, dict) else None
        if isinstance(message, str):
            self._refusal = message
            if self._ever_connected and not self.sio.connected:
                # Refused while reconnecting (the session ended): stop trying.
                log.error("reconnecting was refused with %s; giving up", message)
                self._stopping = asyncio.create_task(self.sio.shutdown())

    async def _stop_resuming(self) -> None:
        task, self._resuming = self._resuming, None
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
            answer = reply.model_validate(data)
        except pydantic.ValidationError as exc:
            problem = OffSpecData(f"ack:{event}", data, str(exc))
            self.off_spec.append(problem)
            raise problem from None
        command = self.ROOM_COMMANDS.get(event)
        if command is not None and isinstance(data, dict) and data.get("ok") is True:
            await self._track(event, command, dump(payload))
        return answer

    # ---- rooms and catching up ------------------------------------------------------

    async def _track(self, event: str, command: RoomCommand, data: dict[str, Any]) -> None:
        room = command.room_of(data)
        if room is None:
            return
        if not command.enters:
            self._forget(room)
            return
        known = room in self._rooms
        self._rooms[room] = _Joined(event, command, data)
        catch_up = self._catch_up_of(command)
        if catch_up is not None and self.reconnect and not known:
            await self._baseline(catch_up[1], room, data[command.param])

    def _forget(self, room: str) -> None:
        self._rooms.pop(room, None)
        self._cursors.pop(room, None)
        self._recent.pop(room, None)

    def _catch_up_of(self, command: RoomCommand) -> tuple[str, CatchUp] | None:
        for event, catch_up in self.CATCH_UP.items():
            if catch_up.room == command.room:
                return event, catch_up
        return None

    async def _baseline(self, catch_up: CatchUp, room: str, value: Any) -> None:
        """The newest key of a room just joined: what a later catch-up starts after."""
        try:
            page = await self._page(catch_up, value, {catch_up.limit: 1})
        except (CatchUpFailed, aiohttp.ClientError, TimeoutError) as exc:
            log.error("could not read where %s starts (%s); it cannot catch up", room, exc)
            self.catch_up_failures += 1
            return
        keys = [item[catch_up.key] for item in page]
        # 0: the room had no events when joined; a catch-up then reads it from the start.
        self._cursors[room] = max([self._cursors.get(room, 0), *keys])

    async def _page(
        self, catch_up: CatchUp, value: Any, query: Mapping[str, int]
    ) -> list[dict[str, Any]]:
        page = await self._get(catch_up, value, query)
        return list(page[catch_up.items])

    async def _get(self, catch_up: CatchUp, value: Any, query: Mapping[str, int]) -> dict[str, Any]:
        if self._rest is None:
            self._rest = aiohttp.ClientSession()
        path = catch_up.path.format(**{catch_up.param: value})
        async with self._rest.get(
            self._url + path,
            params={k: str(v) for k, v in query.items()},
            headers={"Cookie": f"{self.COOKIE_NAME}={self._cookie}"},
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        ) as response:
            if response.status != 200:
                raise CatchUpFailed(f"GET {path}: HTTP {response.status}")
            page = await response.json()
        items = page.get(catch_up.items) if isinstance(page, dict) else None
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and isinstance(item.get(catch_up.key), int) for item in items
        ):
            self._off_spec(f"GET {path}", page, f"not a page of {catch_up.items!r}")
            raise CatchUpFailed(f"GET {path}: not a page of {catch_up.items!r}")
        assert isinstance(page, dict)
        return page

    async def _missed(self, catch_up: CatchUp, room: str, value: Any) -> list[dict[str, Any]]:
        """Every event of `room` newer than its cursor, oldest first."""
        cursor = self._cursors.get(room)
        if cursor is None:
            return []
        forwards = cursor > 0
        found: list[dict[str, Any]] = []
        query: dict[str, int] = {catch_up.limit: catch_up.page_size}
        if forwards:
            query[catch_up.after] = cursor
        while len(found) < MAX_CATCH_UP:
            page = await self._get(catch_up, value, query)
            items = page[catch_up.items]
            found += items
            following = page.get(catch_up.next_after if forwards else catch_up.next_before)
            if not items or not isinstance(following, int):
                break
            query[catch_up.after if forwards else catch_up.before] = following
        else:
            log.error("%s missed more than %d events; delivering the oldest", room, MAX_CATCH_UP)
        return sorted(found, key=lambda item: int(item[catch_up.key]))

    async def _resume(self) -> None:
        """After a reconnect: rejoin, deliver what each room missed, then what was held."""
        try:
            for room, joined in list(self._rooms.items()):
                if not await self._rejoin(joined):
                    log.warning("could not rejoin %s after a reconnect", room)
                    self._forget(room)
            for room, joined in list(self._rooms.items()):
                found = self._catch_up_of(joined.command)
                if found is not None:
                    await self._catch_up(
                        found[0], found[1], room, joined.data[joined.command.param]
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            # The connection went away again (the next connect resumes) or a bug: say so.
            log.exception("resuming after a reconnect failed")
        while self._held:
            event, payload = self._held.popleft()
            if self._first(event, payload):
                await self._deliver(event, payload)
        self._holding = False

    async def _rejoin(self, joined: _Joined) -> bool:
        data = await self.sio.call(joined.event, joined.data, timeout=self.timeout)
        try:
            joined.command.reply.model_validate(data)
        except pydantic.ValidationError as exc:
            self._off_spec(f"ack:{joined.event}", data, str(exc))
            return False
        return isinstance(data, dict) and data.get("ok") is True

    async def _catch_up(self, event: str, catch_up: CatchUp, room: str, value: Any) -> None:
        try:
            missed = await self._missed(catch_up, room, value)
        except (CatchUpFailed, aiohttp.ClientError, TimeoutError) as exc:
            self.catch_up_failures += 1
            log.error("could not fetch what %s missed: %s", room, exc)
            return
        model = self.EVENTS[event]
        for item in missed:
            try:
                payload = model.model_validate(item)
            except pydantic.ValidationError as exc:
                self._off_spec(event, item, str(exc))
                continue
            if self._first(event, payload):
                self.caught_up += 1
                await self._deliver(event, payload)

    def _first(self, event: str, payload: BaseModel) -> bool:
        """Whether a room event with a catch-up arrives for the first time (and note it)."""
        catch_up = self.CATCH_UP.get(event)
        if catch_up is None or not self.reconnect:
            # Without catch-ups nothing arrives twice: Socket.IO delivers at most once.
            return True
        data = dump(payload)
        key, room = data.get(catch_up.key), catch_up.room_of(data)
        if not isinstance(key, int) or room is None:
            return True
        recent = self._recent.setdefault(room, set())
        if key in recent:
            return False
        recent.add(key)
        if len(recent) > RECENT_KEYS:
            keep = sorted(recent)[RECENT_KEYS // 2 :]
            recent.clear()
            recent.update(keep)
        self._cursors[room] = max(self._cursors.get(room, 0), key)
        return True

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
            if event in self.CATCH_UP and self._holding:
                self._held.append((event, payload))
            elif self._first(event, payload):
                await self._deliver(event, payload)

        receive.__name__ = f"receive_{event}"
        return receive

    async def _deliver(self, event: str, payload: BaseModel) -> None:
        """Into the inbox, then to the handlers, one event at a time."""
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
