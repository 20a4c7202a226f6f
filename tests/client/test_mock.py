"""`zizany mock`: the contract played from its examples, with no database. REST paths answer
their OpenAPI examples (valid against their own response schemas); client events are
acknowledged with their reply examples and cause the events `x-emits` names, to the rooms
`x-socketio-enters` put the sockets in; invalid payloads get the real server's
`error:validation`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from codegen.loader import load_yaml
from contract_runtime.client import ConnectionRefused
from generated.realtime.client import ZizanyClient
from generated.realtime.models import (
    ChannelJoin,
    ChannelLeave,
    MessageCreate,
    MessageDelete,
    MessageUpdate,
    ServerJoin,
    ServerLeave,
    TypingStart,
    TypingStop,
)
from service.mock.contract import load_mock_contract, resolved
from tests.support.clients import RecordingClient
from tests.support.live import LiveServer
from tests.support.paths import ROOT
from tests.support.seeded import World
from tests.support.typescript import run_example

OPENAPI = ROOT / "spec" / "openapi.yaml"
ASYNCAPI = ROOT / "spec" / "asyncapi.yaml"
COOKIE = {"Cookie": "connect.sid=anything-at-all"}
pytestmark = pytest.mark.anyio


@cache
def openapi_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of the spec, `$ref`s resolved."""
    spec = resolved(OPENAPI)
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]


def example_of(event: str, name: str | None = None) -> Any:
    """The example payload of a message of spec/asyncapi.yaml (by event name)."""
    for message in load_yaml(ASYNCAPI)["components"]["messages"].values():
        if message.get("name") == event:
            examples = message["examples"]
            return next(e["payload"] for e in examples if name in (None, e["name"]))
    raise KeyError(event)


def test_every_rest_operation_answers_its_spec_example_valid_against_its_schema(
    mock: LiveServer,
) -> None:
    checked = 0
    with httpx.Client(base_url=mock.url, headers=COOKIE, timeout=10) as http:
        for method, path, op in openapi_operations():
            url = path.replace("{serverId}", "1").replace("{channelId}", "1")
            url = url.replace("{messageId}", "10").replace("{userId}", "2")
            answer = http.request(method, url, json={} if method != "GET" else None)
            code, response = next((c, r) for c, r in op["responses"].items() if c[0] == "2")
            assert answer.status_code == int(code), (method, path, answer.text)
            assert answer.headers["x-zizany-mock"] == op["operationId"]
            media = response.get("content", {}).get("application/json")
            if media is None:
                assert answer.content == b""
            else:
                jsonschema.Draft202012Validator(media["schema"]).validate(answer.json())
                examples = [e["value"] for e in media.get("examples", {}).values()]
                assert answer.json() == examples[0]
            for name, header in response.get("headers", {}).items():
                if "example" in header:
                    assert answer.headers[name] == header["example"]
            checked += 1
    assert checked == len(openapi_operations()) >= 26


def test_rest_without_a_session_cookie_answers_401_except_where_the_spec_needs_none(
    mock: LiveServer,
) -> None:
    with httpx.Client(base_url=mock.url, timeout=10) as http:
        health = http.get("/api/health")
        servers = http.get("/api/servers")
        login = http.post("/api/auth/login", json={"email": "x@example.com", "password": "x"})
        unknown = http.get("/api/nowhere")
        wrong_method = http.put("/api/servers")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert servers.status_code == 401 and servers.json()["code"] == "E_UNAUTHORIZED"
    assert login.status_code == 200 and login.cookies.get("connect.sid")
    assert unknown.status_code == 404 and unknown.json()["code"] == "E_NOT_FOUND"
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "E_METHOD_NOT_ALLOWED"
    assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "POST"}


async def test_the_generated_client_plays_a_conversation_against_the_mock(
    mock: LiveServer,
) -> None:
    async with ZizanyClient() as sara, ZizanyClient() as tom:
        await sara.connect(mock.url, cookie="sara")
        await tom.connect(mock.url, cookie="tom")
        for client in (sara, tom):
            joined = await client.server_join(ServerJoin(serverId=1))
            assert joined.serverId == 1
            await client.wait_for("server:joined")
            await client.wait_for("presence:update")
            await client.channel_join(ChannelJoin(channelId=1))
            await client.wait_for("channel:joined")

        # typing:update goes to the channel room, the typist excluded.
        await sara.typing_start(TypingStart(channelId=1))
        started = await tom.wait_for("typing:update", where=lambda t: t.isTyping)
        assert started.model_dump() == example_of("typing:update", "typing")
        await sara.typing_stop(TypingStop(channelId=1))
        stopped = await tom.wait_for("typing:update", where=lambda t: not t.isTyping)
        assert stopped.model_dump() == example_of("typing:update", "stopped")

        sent = await sara.message_create(MessageCreate(channelId=1, content="Hello"))
        assert sent.message.model_dump(mode="json") == example_of("message:new")
        for client in (sara, tom):  # the sender's socket in the room gets it too
            new = await client.wait_for("message:new")
            assert new.model_dump(mode="json") == example_of("message:new")
        edited = await sara.message_update(MessageUpdate(messageId=10, content="Hello again"))
        assert edited.message.content == example_of("message:updated")["content"]
        await tom.wait_for("message:updated")
        await sara.message_delete(MessageDelete(messageId=10))
        gone = await tom.wait_for("message:deleted")
        assert gone.model_dump() == example_of("message:deleted")

        # Leaving the room: no more of its broadcasts.
        await tom.channel_leave(ChannelLeave(channelId=1))
        await tom.wait_for("channel:left")
        await tom.server_leave(ServerLeave(serverId=1))
        await tom.wait_for("server:left")
        await sara.message_create(MessageCreate(channelId=1, content="Anyone?"))
        await sara.wait_for("message:new")

    typing_seen_by_sara = [r for r in sara.pending() if r.event == "typing:update"]
    assert typing_seen_by_sara == []
    assert [r.event for r in tom.pending()].count("message:new") == 0  # left the room
    assert sara.off_spec == [] and tom.off_spec == []


async def test_the_mock_refuses_a_handshake_without_a_session_cookie(mock: LiveServer) -> None:
    client = RecordingClient()
    with pytest.raises(Exception):  # noqa: B017, PT011 - socketio's ConnectionError
        await client.connect(mock.url)
    assert client.connect_error == {"message": "E_UNAUTHORIZED"}
    async with ZizanyClient() as anyone:
        await anyone.connect(mock.url, cookie="not-even-signed")
        assert anyone.connected
    with pytest.raises(ConnectionRefused):
        async with ZizanyClient() as empty:
            await empty.connect(mock.url, cookie="")


INVALID = [
    ("message:create", {"channelId": "1", "content": "Hello"}),
    ("message:create", {"channelId": 1}),
    ("message:create", {"channelId": 1, "content": "x" * 4001}),
    ("message:create", {"channelId": 1, "content": "Hello", "extra": True}),
    ("server:join", {"serverId": 0}),
    ("channel:join", []),
    ("typing:start", "1"),
    ("message:update", {"messageId": -1, "content": ""}),
]


async def test_invalid_payloads_get_the_real_servers_error_validation_and_ack(
    mock: LiveServer, world: World
) -> None:
    user = await world.user("ann")
    real = await world.connect(user)
    fake = RecordingClient()
    await fake.connect(mock.url, headers=COOKIE)
    try:
        for event, payload in INVALID:
            real_ack = await real.call(event, payload)
            mock_ack = await fake.call(event, payload)
            assert mock_ack == real_ack, (event, payload)
            assert mock_ack["ok"] is False and mock_ack["code"] == "E_VALIDATION"
        assert fake.named("error:validation") == real.named("error:validation")
        assert len(fake.named("error:validation")) == len(INVALID)
        assert {name for name, _ in fake.events} == {"error:validation"}  # nothing else
    finally:
        await fake.close()


@pytest.mark.node
def test_the_typescript_example_runs_against_the_mock(
    mock: LiveServer, compiled_example: Path
) -> None:
    done = run_example(compiled_example, mock.url, "sara@example.com", "any", 1, 1)
    assert done.returncode == 0, done.stdout + done.stderr
    stored = example_of("message:new")
    assert f"stored as message {stored['id']} at {stored['created_at']}" in done.stdout


def test_every_client_event_of_the_spec_has_what_the_mock_needs() -> None:
    contract = load_mock_contract()
    spec = load_yaml(ASYNCAPI)
    receive = [op for op in spec["operations"].values() if op["action"] == "receive"]
    assert len(contract.receive) == len(receive) == 9
    for op in receive:
        assert op.get("x-emits"), "every client event causes at least its answer"
    assert contract.receive["server:join"].enter == "server:{serverId}"
    assert contract.receive["channel:leave"].leave == "channel:{channelId}"


def test_zizany_mock_serves_the_examples_from_the_command_line(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ZIZANY_DATA_DIR": str(tmp_path / "unused")}
    command = [sys.executable, "-m", "service.cli", "mock", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a cold start imports everything (slow when busy)
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "zizany mock did not start"
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.json() == example_of_rest("get_health")
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "Zizany mock" in output
    assert not (tmp_path / "unused").exists(), "the mock created a data directory"


def example_of_rest(operation_id: str) -> Any:
    """The first example of the first success response of an OpenAPI operation."""
    for _, _, op in openapi_operations():
        if op["operationId"] == operation_id:
            response = next(r for c, r in op["responses"].items() if c[0] == "2")
            media = response["content"]["application/json"]
            return next(iter(media["examples"].values()))["value"]
    raise KeyError(operation_id)
