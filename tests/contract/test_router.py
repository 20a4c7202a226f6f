"""The generated router and emitter on a live uvicorn, driven by a real python-socketio client.

The handlers here are small test doubles; the service's real handlers have their own tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest
import socketio

from contract_runtime.emitter import SocketId
from contract_runtime.errors import EmitRejected
from generated.realtime.emitter import Emitter
from generated.realtime.rooms import channel_room
from generated.realtime.router import SocketHandlers, bind
from tests.support.clients import RecordingClient
from tests.support.doubles import CRASH, FORBIDDEN, OFF_SPEC_ACK, UNDECLARED, Doubles, a_message
from tests.support.live import LiveServer, serve

pytestmark = pytest.mark.anyio


class Harness:
    def __init__(self, live: LiveServer, handlers: Doubles, emitter: Emitter) -> None:
        self.live = live
        self.handlers = handlers
        self.emitter = emitter


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
    emitter = Emitter(sio, strict=True)
    handlers = Doubles(emitter)
    bind(sio, handlers, emitter)
    with serve(socketio.ASGIApp(sio)) as live:
        yield Harness(live, handlers, emitter)


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[RecordingClient]:
    c = RecordingClient()
    await c.connect(harness.live.url, headers={"X-User": "sara"})
    yield c
    await c.close()


async def test_a_valid_event_reaches_its_handler_and_gets_its_event_and_ack(
    harness: Harness, client: RecordingClient
) -> None:
    ack = await client.call("server:join", {"serverId": 1})
    assert ack == {"ok": True, "serverId": 1}
    assert await client.wait_for("server:joined") == [{"serverId": 1}]


async def test_connection_without_principal_is_refused_with_e_unauthorized(
    harness: Harness,
) -> None:
    c = RecordingClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect(harness.live.url)
    assert c.connect_error == {"message": "E_UNAUTHORIZED"}


@pytest.mark.parametrize(
    "payload",
    [
        {"channelId": "1", "content": "hi"},
        {"channelId": 1},
        {"channelId": 1, "content": "hi", "extra": True},
        {"channelId": 0, "content": "hi"},
        {"channelId": 2**40, "content": "hi"},
        {"channelId": 1, "content": ""},
        {"channelId": 1, "content": "   "},
        {"channelId": 1, "content": "x" * 4001},
        None,
        [1, 2],
        "message",
    ],
)
async def test_an_invalid_payload_never_reaches_its_handler_and_yields_error_validation(
    harness: Harness, client: RecordingClient, payload: Any
) -> None:
    before = len(harness.handlers.calls)
    ack = await client.call("message:create", payload)
    assert ack["ok"] is False
    assert ack["code"] == "E_VALIDATION"
    assert ack["details"]
    (error,) = await client.wait_for("error:validation")
    assert error["code"] == "E_VALIDATION"
    assert error["event"] == "message:create"
    assert error["details"] == ack["details"]
    assert len(harness.handlers.calls) == before
    # the connection stays up and keeps working
    assert await client.call("server:join", {"serverId": 2}) == {"ok": True, "serverId": 2}


async def test_a_domain_error_becomes_its_error_event_and_a_failed_ack(
    client: RecordingClient,
) -> None:
    ack = await client.call("server:join", {"serverId": FORBIDDEN})
    assert ack == {"ok": False, "code": "E_FORBIDDEN", "message": "sara is not a member"}
    (error,) = await client.wait_for("error:permission")
    assert error == {
        "code": "E_FORBIDDEN",
        "event": "server:join",
        "message": "sara is not a member",
    }


async def test_without_ack_the_error_event_is_still_sent(client: RecordingClient) -> None:
    await client.emit("server:join", {"serverId": FORBIDDEN})
    assert (await client.wait_for("error:permission"))[0]["code"] == "E_FORBIDDEN"


async def test_a_handler_exception_yields_e_internal_and_the_connection_stays_up(
    client: RecordingClient, caplog: pytest.LogCaptureFixture
) -> None:
    ack = await client.call("server:join", {"serverId": CRASH})
    assert ack["ok"] is False
    assert ack["code"] == "E_INTERNAL"
    assert "a bug" not in ack["message"]  # no internals leak to clients
    (error,) = await client.wait_for("error:internal")
    assert error["code"] == "E_INTERNAL"
    assert any("handler of server:join failed" in r.message for r in caplog.records)
    assert any(r.exc_info for r in caplog.records)
    assert await client.call("server:join", {"serverId": 3}) == {"ok": True, "serverId": 3}


async def test_an_error_code_the_spec_does_not_list_for_the_event_becomes_e_internal(
    client: RecordingClient,
) -> None:
    ack = await client.call("server:join", {"serverId": UNDECLARED})
    assert ack["code"] == "E_INTERNAL"
    assert client.named("error:not_found") == []


async def test_an_off_spec_ack_is_refused_in_strict_mode(client: RecordingClient) -> None:
    ack = await client.call("server:join", {"serverId": OFF_SPEC_ACK})
    assert ack["ok"] is False
    assert ack["code"] == "E_INTERNAL"


async def test_an_off_spec_emit_is_refused_and_nothing_reaches_the_client(
    harness: Harness, client: RecordingClient
) -> None:
    await client.call("channel:join", {"channelId": 5})
    bad = a_message(5, "hello").model_copy(update={"content": ""})  # content must be 1..4000
    with pytest.raises(EmitRejected):
        harness.live.call(harness.emitter.message_new(channel_room(5), bad))
    lenient = Emitter(harness.emitter.sio, strict=False)
    harness.live.call(lenient.message_new(channel_room(5), bad))
    assert lenient.rejected["message:new"] == 1
    good = a_message(5, "hello")
    harness.live.call(harness.emitter.message_new(channel_room(5), good))
    received = await client.wait_for("message:new")
    assert received == [good.model_dump(mode="json")]  # only the valid one arrived


async def test_events_of_one_socket_are_handled_in_send_order(
    harness: Harness, client: RecordingClient
) -> None:
    await client.call("channel:join", {"channelId": 9})
    contents = [("slow " if i % 3 == 0 else "") + str(i) for i in range(30)]
    for content in contents:
        await client.emit("message:create", {"channelId": 9, "content": content})
    received = await client.wait_for("message:new", count=len(contents))
    assert [m["content"] for m in received] == contents


def test_a_missing_handler_fails_at_start_up() -> None:
    class Partial(Doubles):
        on_message_delete = None  # type: ignore[assignment]

    sio = socketio.AsyncServer(async_mode="asgi")
    emitter = Emitter(sio)
    with pytest.raises(TypeError, match="on_message_delete"):
        bind(sio, Partial(emitter), emitter)


def test_a_subclass_without_every_handler_cannot_be_built() -> None:
    class Incomplete(SocketHandlers[str]):
        async def authenticate(self, sid: SocketId, environ: Mapping[str, Any]) -> str | None:
            return None

    with pytest.raises(TypeError, match="on_message_create"):
        Incomplete()  # type: ignore[abstract]
