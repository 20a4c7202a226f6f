"""The mock's Socket.IO side: the generated router and emitter, with handlers built from
the spec instead of written per event.

Every client event goes through the generated `Dispatcher` (one event at a time per
socket, the same payload validation, `error:validation` and acks as the real server).
A valid event then enters or leaves the room its operation's `x-socketio-enters` /
`x-socketio-leaves` names, sends the
example payload of each `x-emits` entry without `when` (to the socket, or to the room,
sender skipped when the send operation says so) and answers its `ok` reply example.
Every emitted payload is checked against its schema by the generated emitter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import socketio
from pydantic import BaseModel, ConfigDict

from contract_runtime.dispatcher import Context, Dispatcher
from contract_runtime.emitter import SocketId
from generated.realtime.emitter import Emitter
from generated.realtime.router import OPERATIONS, SocketHandlers, bind
from service.mock.contract import MockContract, SocketOperation, SpecGap, fill

SESSION_COOKIE = "connect.sid"
Handler = Callable[[Any, Context[str], BaseModel], Awaitable[BaseModel]]


class Example(BaseModel):
    """A reply example as it is in the spec (the dispatcher checks it against the schema)."""

    model_config = ConfigDict(extra="allow")


def session_of(environ: Mapping[str, Any]) -> str | None:
    """The `connect.sid` cookie's value in a handshake, whatever it is; None without one."""
    for pair in str(environ.get("HTTP_COOKIE", "")).split(";"):
        name, _, value = pair.strip().partition("=")
        value = value.strip('"')  # aiohttp sends an empty value as `""`
        if name == SESSION_COOKIE and value:
            return value
    return None


class MockHandlersBase(SocketHandlers[str]):
    """Authentication for the mock: any session cookie is a principal (its value)."""

    contract: MockContract
    sio: socketio.AsyncServer
    emitter: Emitter

    async def authenticate(self, sid: SocketId, environ: Mapping[str, Any]) -> str | None:
        """Any `connect.sid` is accepted; none is `E_UNAUTHORIZED`, as on the real server."""
        return session_of(environ)

    async def play(self, ctx: Context[str], payload: BaseModel) -> BaseModel:
        """Do what the spec says `ctx.event` does, with the spec's examples."""
        op = self.contract.receive[ctx.event]
        request = payload.model_dump(mode="json", by_alias=True)
        if op.enter is not None:
            await self.sio.enter_room(ctx.sid, fill(op.enter, request))
        if op.leave is not None:
            await self.sio.leave_room(ctx.sid, fill(op.leave, request))
        for emit in op.emits:
            if emit.when is not None:
                continue
            event = self.contract.send[emit.event]
            data = event.example(emit.example)
            if not self.emitter.accept(emit.event, data):
                continue
            room = emit.room_name(request, data)
            if room is None:
                await self.sio.emit(emit.event, data, to=ctx.sid)
            else:
                skip = ctx.sid if event.exclude_sender else None
                await self.sio.emit(emit.event, data, to=room, skip_sid=skip)
        return Example.model_validate(op.reply)


def _handler() -> Handler:
    async def handle(self: MockHandlersBase, ctx: Context[str], payload: BaseModel) -> BaseModel:
        return await self.play(ctx, payload)

    return handle


def mock_handlers(contract: MockContract) -> type[MockHandlersBase]:
    """A SocketHandlers subclass with one method per operation of the generated router."""
    missing = [op.event for op in OPERATIONS if op.event not in contract.receive]
    if missing:
        raise SpecGap(f"the spec has no receive operation for {missing}")
    methods: dict[str, Any] = {op.method: _handler() for op in OPERATIONS}
    return type("MockHandlers", (MockHandlersBase,), methods)


def create_mock_sockets(
    contract: MockContract, *, allowed_origins: list[str]
) -> tuple[socketio.AsyncServer, Dispatcher[str]]:
    """The mock's AsyncServer (same origins rule as the real one) and its dispatcher."""
    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=list(allowed_origins),
        cors_credentials=True,
        transports=["polling", "websocket"],
    )
    emitter = Emitter(sio, strict=True)
    handlers = mock_handlers(contract)()
    handlers.contract = contract
    handlers.sio = sio
    handlers.emitter = emitter
    return sio, bind(sio, handlers, emitter)


def described(op: SocketOperation) -> str:
    """One line about what the mock does for `op` (for the start-up log)."""
    effects = [e.event + (f" to {e.room}" if e.room else "") for e in op.emits if e.when is None]
    return f"{op.event} → ack ok" + "".join(f", {e}" for e in effects)
