"""The generated router's Dispatcher in process: no port, no client, milliseconds per test.

A real python-socketio AsyncServer that is never served: the tests call the entry points
the Dispatcher registered on it (what Socket.IO calls for a connection and for each event)
with the dicts a client would send, and read what the server emitted from the server
itself. The live-server tests of the same rules are in test_router.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import socketio

from contract_runtime.dispatcher import Dispatcher
from contract_runtime.observer import EventDone
from generated.realtime.emitter import Emitter
from generated.realtime.router import OPERATIONS, bind
from tests.support.doubles import CRASH, FORBIDDEN, OFF_SPEC_ACK, UNDECLARED, Doubles

pytestmark = pytest.mark.anyio

Entry = Callable[..., Awaitable[Any]]


class Unserved(socketio.AsyncServer):  # type: ignore[misc]
    """A real AsyncServer with no transport; keeps every emit it was asked to send."""

    def __init__(self) -> None:
        super().__init__(async_mode="asgi", cors_allowed_origins=[])
        self.sent: list[tuple[str, Any, Any]] = []

    async def emit(self, event: str, data: Any = None, to: Any = None, **rest: Any) -> None:
        self.sent.append((event, data, to))
        await super().emit(event, data, to=to, **rest)


class Gated(Doubles):
    """`message:create` with content `wait` blocks until the test opens the gate."""

    def __init__(self, emitter: Emitter) -> None:
        super().__init__(emitter)
        self.gate = asyncio.Event()
        self.started: list[str] = []

    async def on_message_create(self, ctx: Any, payload: Any) -> Any:
        self.started.append(f"{ctx.sid}:{payload.content}")
        if payload.content == "wait":
            await self.gate.wait()
        return await super().on_message_create(ctx, payload)


class InProcess:
    """A bound Dispatcher and the entry points it registered."""

    def __init__(self) -> None:
        self.sio = Unserved()
        self.emitter = Emitter(self.sio, strict=True)
        self.handlers = Gated(self.emitter)
        self.dispatcher: Dispatcher[str] = bind(self.sio, self.handlers, self.emitter)

    def entry(self, event: str) -> Entry:
        handler: Entry = self.sio.handlers["/"][event]
        return handler

    async def connect(self, sid: str, user: str | None = "sara") -> None:
        environ = {} if user is None else {"HTTP_X_USER": user}
        await self.entry("connect")(sid, environ)

    async def send(self, sid: str, event: str, *args: Any) -> Any:
        return await self.entry(event)(sid, *args)

    def emitted(self, event: str) -> list[tuple[Any, Any]]:
        return [(data, to) for name, data, to in self.sio.sent if name == event]


@pytest.fixture
async def app() -> InProcess:
    made = InProcess()
    await made.connect("s1")
    return made


async def test_every_receive_operation_has_an_entry_point_on_the_server(app: InProcess) -> None:
    for op in OPERATIONS:
        assert callable(app.entry(op.event)), op.event
    assert {"connect", "disconnect"} <= set(app.sio.handlers["/"])


async def test_a_valid_payload_reaches_the_handler_and_its_ack_is_the_wire_form(
    app: InProcess,
) -> None:
    ack = await app.send("s1", "server:join", {"serverId": 3})
    assert ack == {"ok": True, "serverId": 3}
    assert app.emitted("server:joined") == [({"serverId": 3}, "s1")]
    ack = await app.send("s1", "message:create", {"channelId": 4, "content": "hi"})
    assert ack["ok"] is True
    assert ack["message"]["channel_id"] == 4 and ack["message"]["user"]["username"] == "Sara"
    assert app.emitted("message:new") == [(ack["message"], "channel:4")]


@pytest.mark.parametrize(
    "args",
    [
        ({"serverId": "3"},),
        ({"serverId": 0},),
        ({"serverId": 3, "extra": 1},),
        ({},),
        (None,),
        (),
        ({"serverId": 3}, {"serverId": 4}),
    ],
)
async def test_an_invalid_payload_answers_e_validation_and_never_reaches_the_handler(
    app: InProcess, args: tuple[Any, ...]
) -> None:
    ack = await app.send("s1", "server:join", *args)
    assert ack["ok"] is False and ack["code"] == "E_VALIDATION"
    assert ack["message"] == "invalid server:join payload"
    assert ack["details"] and all({"loc", "msg"} <= set(d) for d in ack["details"])
    assert app.handlers.calls == []
    ((error, to),) = app.emitted("error:validation")
    assert to == "s1"
    assert error == {**{k: v for k, v in ack.items() if k != "ok"}, "event": "server:join"}


async def test_a_listed_error_code_answers_its_code_and_error_event(app: InProcess) -> None:
    ack = await app.send("s1", "server:join", {"serverId": FORBIDDEN})
    assert ack == {"ok": False, "code": "E_FORBIDDEN", "message": "sara is not a member"}
    assert app.emitted("error:permission") == [
        (
            {"code": "E_FORBIDDEN", "event": "server:join", "message": "sara is not a member"},
            "s1",
        )
    ]


async def test_an_error_code_the_spec_does_not_list_for_the_event_becomes_e_internal(
    app: InProcess,
) -> None:
    ack = await app.send("s1", "server:join", {"serverId": UNDECLARED})
    assert ack == {"ok": False, "code": "E_INTERNAL", "message": "internal error"}
    assert app.emitter.rejected["code:E_MESSAGE_NOT_FOUND"] == 1
    assert [data["code"] for data, _ in app.emitted("error:internal")] == ["E_INTERNAL"]
    assert app.emitted("error:not_found") == []


async def test_a_crashing_handler_answers_e_internal_and_the_socket_keeps_working(
    app: InProcess,
) -> None:
    ack = await app.send("s1", "server:join", {"serverId": CRASH})
    assert ack == {"ok": False, "code": "E_INTERNAL", "message": "internal error"}
    assert await app.send("s1", "server:join", {"serverId": 2}) == {"ok": True, "serverId": 2}


async def test_an_ack_that_breaks_the_reply_schema_is_replaced_by_e_internal(
    app: InProcess,
) -> None:
    ack = await app.send("s1", "server:join", {"serverId": OFF_SPEC_ACK})
    assert ack == {"ok": False, "code": "E_INTERNAL", "message": "internal error"}
    assert app.emitter.rejected["ack:serverJoinAck"] == 1


async def test_events_of_one_socket_run_one_at_a_time_in_arrival_order(app: InProcess) -> None:
    await app.connect("s2", "omar")
    first = asyncio.create_task(
        app.send("s1", "message:create", {"channelId": 1, "content": "wait"})
    )
    await asyncio.sleep(0.01)
    second = asyncio.create_task(app.send("s1", "message:create", {"channelId": 1, "content": "b"}))
    third = asyncio.create_task(app.send("s1", "message:create", {"channelId": 1, "content": "c"}))
    other = await app.send("s2", "message:create", {"channelId": 1, "content": "other"})
    # s1's later events wait behind its blocked first one; s2 does not wait for s1.
    assert other["ok"] is True
    assert app.handlers.started == ["s1:wait", "s2:other"]
    app.handlers.gate.set()
    acks = await asyncio.gather(first, second, third)
    assert [a["message"]["content"] for a in acks] == ["wait", "b", "c"]
    assert app.handlers.started == ["s1:wait", "s2:other", "s1:b", "s1:c"]
    assert [d["content"] for d, _ in app.emitted("message:new")] == ["other", "wait", "b", "c"]


async def test_a_connection_without_principal_is_refused_and_its_events_are_ignored() -> None:
    app = InProcess()
    with pytest.raises(socketio.exceptions.ConnectionRefusedError) as refused:
        await app.connect("s9", user=None)
    assert refused.value.error_args == {"message": "E_UNAUTHORIZED"}
    assert await app.send("s9", "server:join", {"serverId": 1}) is None
    assert app.handlers.calls == [] and app.sio.sent == []


async def test_after_disconnect_a_socket_s_events_are_ignored(app: InProcess) -> None:
    await app.entry("disconnect")("s1", "client disconnect")
    assert await app.send("s1", "server:join", {"serverId": 1}) is None
    assert app.dispatcher.principals == {}


def test_binding_handlers_that_miss_an_operation_fails_naming_it() -> None:
    class Partial(Doubles):
        pass

    del_method = "on_typing_stop"
    sio = Unserved()
    emitter = Emitter(sio)
    handlers = Partial(emitter)
    setattr(Partial, del_method, None)
    with pytest.raises(TypeError, match=del_method):
        bind(sio, handlers, emitter)


class Recording:
    """A DispatchObserver that writes down every call, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    def event_started(self, sid: str, event: str) -> EventDone:
        self.seen.append(("started", sid, event))

        def done(code: str | None) -> None:
            self.seen.append(("done", sid, event, str(code)))

        return done

    def connected(self, sid: str) -> None:
        self.seen.append(("connected", sid))

    def disconnected(self, sid: str) -> None:
        self.seen.append(("disconnected", sid))


def observed() -> tuple[InProcess, Recording]:
    made = InProcess()
    made.dispatcher.observer = recording = Recording()
    return made, recording


async def test_the_observer_hears_each_event_begin_and_end_with_its_outcome() -> None:
    app, recording = observed()
    await app.connect("s1")
    await app.send("s1", "server:join", {"serverId": 3})
    await app.send("s1", "server:join", {"serverId": "3"})
    await app.send("s1", "server:join", {"serverId": FORBIDDEN})
    await app.send("s1", "server:join", {"serverId": CRASH})
    await app.send("s1", "server:join", {"serverId": OFF_SPEC_ACK})
    await app.entry("disconnect")("s1", "client disconnect")
    join = ("s1", "server:join")
    assert recording.seen == [
        ("started", "s1", "connect"),
        ("connected", "s1"),
        ("done", "s1", "connect", "None"),
        ("started", *join),
        ("done", *join, "None"),
        ("started", *join),
        ("done", *join, "E_VALIDATION"),
        ("started", *join),
        ("done", *join, "E_FORBIDDEN"),
        ("started", *join),
        ("done", *join, "E_INTERNAL"),
        ("started", *join),
        ("done", *join, "E_INTERNAL"),
        ("started", "s1", "disconnect"),
        ("disconnected", "s1"),
        ("done", "s1", "disconnect", "None"),
    ]


async def test_the_observer_hears_a_refused_connection_with_its_code_and_no_connected() -> None:
    app, recording = observed()
    with pytest.raises(socketio.exceptions.ConnectionRefusedError):
        await app.connect("s9", user=None)
    await app.send("s9", "server:join", {"serverId": 1})
    await app.entry("disconnect")("s9", "client disconnect")
    assert recording.seen == [
        ("started", "s9", "connect"),
        ("done", "s9", "connect", "E_UNAUTHORIZED"),
    ]


async def test_an_event_is_observed_from_its_arrival_so_waiting_counts_in_its_time() -> None:
    app, recording = observed()
    await app.connect("s1")
    first = asyncio.create_task(
        app.send("s1", "message:create", {"channelId": 1, "content": "wait"})
    )
    await asyncio.sleep(0.01)
    second = asyncio.create_task(app.send("s1", "message:create", {"channelId": 1, "content": "b"}))
    await asyncio.sleep(0.01)
    create = ("s1", "message:create")
    # The second one is under way (waiting behind the first) before the first ends.
    assert recording.seen[-2:] == [("started", *create), ("started", *create)]
    app.handlers.gate.set()
    await asyncio.gather(first, second)
    assert recording.seen[-2:] == [("done", *create, "None"), ("done", *create, "None")]


async def test_a_cancelled_event_ends_observed_as_e_internal() -> None:
    app, recording = observed()
    await app.connect("s1")
    blocked = asyncio.create_task(
        app.send("s1", "message:create", {"channelId": 1, "content": "wait"})
    )
    await asyncio.sleep(0.01)
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert recording.seen[-1] == ("done", "s1", "message:create", "E_INTERNAL")
