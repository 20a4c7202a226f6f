"""Socket.IO connections that record, in arrival order, every event and ack they receive."""

from __future__ import annotations

import asyncio
import itertools
import json as _json
from dataclasses import dataclass, field
from typing import Any, Protocol

import socketio
from socketio import packet

_request_ids = itertools.count(1)


class _StdJson:
    """The json module the probes encode with: the standard library, whatever the server uses.

    python-socketio keeps the json module on its packet class, which a server in the same
    process may have switched (to orjson); probes keep their own so they can send any JSON,
    e.g. integers beyond 64 bits.
    """

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        """Encode strictly (no NaN or Infinity: they are not JSON)."""
        kwargs.setdefault("allow_nan", False)
        kwargs.setdefault("separators", (",", ":"))
        return _json.dumps(obj, **kwargs)

    @staticmethod
    def loads(data: str | bytes, **kwargs: Any) -> Any:
        """Decode."""
        return _json.loads(data, **kwargs)


class StdJsonPacket(packet.Packet):  # type: ignore[misc]  # socketio is untyped
    """A Socket.IO packet encoded with the standard library's json."""

    json = _StdJson


@dataclass(frozen=True)
class Account:
    """A signed-up user and the session cookie its sockets present."""

    user_id: int
    username: str
    cookie: str
    email: str = ""

    @property
    def headers(self) -> dict[str, str]:
        """The handshake headers."""
        return {"Cookie": f"connect.sid={self.cookie}"}


@dataclass
class Request:
    """One client → server event a probe sent, and what answered it."""

    probe: Probe
    event: str
    args: tuple[Any, ...]
    wants_ack: bool
    id: int = field(default_factory=lambda: next(_request_ids))
    barrier: bool = False
    ack: tuple[Any, ...] | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    lost: bool = False

    @property
    def payload(self) -> Any:
        """The single payload argument (None when there is not exactly one)."""
        return self.args[0] if len(self.args) == 1 else None

    @property
    def reply(self) -> Any:
        """The single ack argument (None before the ack, or when there is not exactly one)."""
        return self.ack[0] if self.ack is not None and len(self.ack) == 1 else None

    @property
    def ok(self) -> bool:
        """Whether the ack says the operation succeeded."""
        reply = self.reply
        return isinstance(reply, dict) and "code" not in reply and reply.get("ok") is not False

    @property
    def code(self) -> str | None:
        """The error code of a failed ack."""
        reply = self.reply
        return str(reply["code"]) if isinstance(reply, dict) and "code" in reply else None

    def describe(self) -> str:
        """A short text for reports."""
        args = _json.dumps(list(self.args), default=repr)
        if len(args) > 300:
            args = args[:300] + "…"
        return f"{self.probe.name} → {self.event} {args}"


class Sink(Protocol):
    """Where probes report what arrives (the Observer)."""

    def on_sent(self, probe: Probe, request: Request) -> None:
        """A request is about to be sent."""

    def on_event(self, probe: Probe, event: str, args: tuple[Any, ...]) -> None:
        """An event arrived."""

    def on_ack(self, probe: Probe, request: Request, args: tuple[Any, ...]) -> None:
        """An ack arrived."""

    def on_disconnect(self, probe: Probe, reason: Any) -> None:
        """The connection ended."""


class Probe:
    """One Socket.IO connection of one user."""

    def __init__(self, name: str, account: Account, sink: Sink) -> None:
        self.name = name
        self.account = account
        self.sink = sink
        self.sio = socketio.AsyncClient(reconnection=False, serializer=StdJsonPacket)
        self.closing = False
        self.connected = False
        self.sio.on("*", handler=self._on_event)
        self.sio.on("disconnect", handler=self._on_disconnect)

    def __repr__(self) -> str:
        return f"<Probe {self.name} user={self.account.user_id}>"

    @property
    def user_id(self) -> int:
        """The user behind the connection."""
        return self.account.user_id

    async def _on_event(self, event: str, *args: Any) -> None:
        self.sink.on_event(self, event, args)

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.connected = False
        self.sink.on_disconnect(self, reason)

    async def connect(self, url: str, *, transport: str = "websocket") -> None:
        """Connect with the account's cookie (raises socketio ConnectionError when refused)."""
        try:
            await self.sio.connect(
                url, headers=self.account.headers, transports=[transport], wait_timeout=10
            )
        except Exception:
            await self._release()
            raise
        self.connected = True

    async def _release(self) -> None:
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    async def send(
        self, event: str, args: tuple[Any, ...], *, ack: bool = True, barrier: bool = False
    ) -> Request:
        """Emit `event` with these arguments (a tuple: zero, one or several); return the request."""
        request = Request(probe=self, event=event, args=args, wants_ack=ack, barrier=barrier)
        self.sink.on_sent(self, request)

        def answered(*ack_args: Any) -> None:
            request.ack = ack_args
            self.sink.on_ack(self, request, ack_args)
            request.answered.set()

        # A tuple is how python-socketio sends several (or no) arguments.
        await self.sio.emit(event, args, callback=answered if ack else None)
        return request

    async def close(self) -> None:
        """Disconnect on purpose."""
        self.closing = True
        if self.sio.connected:
            await self.sio.disconnect()
        self.connected = False
        await self._release()
