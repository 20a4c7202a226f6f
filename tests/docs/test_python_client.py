"""The generated Python client: one typed method per receive operation and one typed handler
per send operation (checked by walking the spec), and a run against the live server."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
import sys
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from codegen.asyncapi import Operation, snake
from contract_runtime.client import ClientBase, ConnectionRefused
from contract_runtime.errors import ContractError
from generated.realtime import models
from generated.realtime.client import EventFailed, ZizanyClient
from generated.realtime.models import (
    ChannelJoin,
    ChannelLeave,
    Message,
    MessageCreate,
    MessageDelete,
    MessageUpdate,
    ServerJoin,
    ServerLeave,
    TypingStart,
    TypingStop,
)
from tests.docs.conftest import contract
from tests.support.paths import ROOT
from tests.support.seeded import User, World

SPEC = contract()


def model(name: str) -> type[BaseModel]:
    found = getattr(models, name)
    assert isinstance(found, type) and issubclass(found, BaseModel)
    return found


@pytest.mark.parametrize("op", SPEC.receive, ids=lambda op: op.event)
def test_every_receive_operation_has_a_typed_async_method(op: Operation) -> None:
    method = getattr(ZizanyClient, snake(op.event))
    assert inspect.iscoroutinefunction(method)
    hints = typing.get_type_hints(method)
    assert hints["payload"] is model(op.message.model)
    assert op.reply_ok_model is not None
    assert hints["return"] is model(op.reply_ok_model)


@pytest.mark.parametrize("op", SPEC.send, ids=lambda op: op.event)
def test_every_send_operation_has_a_typed_handler_and_wait(op: Operation) -> None:
    payload = model(op.message.model)
    assert ZizanyClient.EVENTS[op.event] is payload
    decorator = getattr(ZizanyClient, f"on_{snake(op.event)}")
    handler_type = typing.get_type_hints(decorator)["handler"]
    assert typing.get_origin(handler_type) is typing.get_origin(Callable[[], None])
    assert typing.get_args(handler_type)[0] == [payload]
    waits = {
        typing.get_args(typing.get_type_hints(overload)["event"])[0]: typing.get_type_hints(
            overload
        )["return"]
        for overload in typing.get_overloads(ZizanyClient.wait_for)
    }
    assert waits[op.event] is payload


def test_the_client_has_nothing_the_spec_does_not_name() -> None:
    own = {name for name in vars(ZizanyClient) if not name.startswith("_")}
    expected = {snake(op.event) for op in SPEC.receive}
    expected |= {f"on_{snake(op.event)}" for op in SPEC.send}
    constants = {"EVENTS", "COOKIE_NAME", "VERSION", "ROOM_COMMANDS", "CATCH_UP"}
    assert own - constants == expected | {"wait_for"}
    assert set(ZizanyClient.EVENTS) == {op.event for op in SPEC.send}
    assert SPEC.version == ZizanyClient.VERSION
    assert issubclass(EventFailed, ContractError)


# ---- against the live server ---------------------------------------------------------


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[World, User], Awaitable[ZizanyClient]]]:
    """Connected typed clients, disconnected at the end of the test."""
    async with AsyncExitStack() as stack:

        async def connect(world: World, user: User) -> ZizanyClient:
            client = await stack.enter_async_context(ZizanyClient(timeout=10))
            await client.connect(world.live.url, cookie=user.cookie, transports=["websocket"])
            return client

        yield connect


@pytest.mark.anyio
async def test_typed_client_joins_a_channel_and_receives_message_new(
    world: World, clients: Callable[[World, User], Awaitable[ZizanyClient]]
) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    server_id, channel_id = await world.server(sara, omar)
    reader, writer = await clients(world, omar), await clients(world, sara)
    seen: list[Message] = []

    @reader.on_message_new
    async def remember(message: Message) -> None:
        seen.append(message)

    joined = await reader.server_join(ServerJoin(serverId=server_id))
    assert (joined.ok, joined.serverId) == (True, server_id)
    assert (await reader.channel_join(ChannelJoin(channelId=channel_id))).channelId == channel_id
    await writer.channel_join(ChannelJoin(channelId=channel_id))

    created = await writer.message_create(MessageCreate(channelId=channel_id, content=" Hello "))
    received = await reader.wait_for("message:new")
    assert isinstance(received, Message)
    assert received == created.message
    assert (received.content, received.user.username) == ("Hello", "Sara")
    assert seen == [received]
    assert reader.off_spec == [] and writer.off_spec == []


@pytest.mark.anyio
async def test_typed_client_runs_every_receive_operation_of_the_spec(
    world: World, clients: Callable[[World, User], Awaitable[ZizanyClient]]
) -> None:
    sara, omar = await world.user("Sara"), await world.user("Omar")
    server_id, channel_id = await world.server(sara, omar)
    me, other = await clients(world, sara), await clients(world, omar)
    await other.channel_join(ChannelJoin(channelId=channel_id))
    message_id = 0

    async def run(op: Operation) -> Any:
        nonlocal message_id
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "server:join": lambda: me.server_join(ServerJoin(serverId=server_id)),
            "channel:join": lambda: me.channel_join(ChannelJoin(channelId=channel_id)),
            "typing:start": lambda: me.typing_start(TypingStart(channelId=channel_id)),
            "typing:stop": lambda: me.typing_stop(TypingStop(channelId=channel_id)),
            "message:create": lambda: me.message_create(
                MessageCreate(channelId=channel_id, content="v1")
            ),
            "message:update": lambda: me.message_update(
                MessageUpdate(messageId=message_id, content="v2")
            ),
            "message:delete": lambda: me.message_delete(MessageDelete(messageId=message_id)),
            "channel:leave": lambda: me.channel_leave(ChannelLeave(channelId=channel_id)),
            "server:leave": lambda: me.server_leave(ServerLeave(serverId=server_id)),
        }
        assert set(calls) == {o.event for o in SPEC.receive}, "a receive operation is untested"
        reply = await calls[op.event]()
        assert reply.ok is True
        if op.event == "message:create":
            message_id = reply.message.id
        return reply

    order = [
        "server:join",
        "channel:join",
        "typing:start",
        "typing:stop",
        "message:create",
        "message:update",
        "message:delete",
        "channel:leave",
        "server:leave",
    ]
    by_event = {op.event: op for op in SPEC.receive}
    for event in order:
        await run(by_event[event])

    assert (await me.wait_for("server:joined")).serverId == server_id
    assert (await me.wait_for("presence:update")).serverId == server_id
    assert (await me.wait_for("channel:joined")).channelId == channel_id
    typing_now = await other.wait_for("typing:update", where=lambda u: u.isTyping)
    assert typing_now.username == "Sara"
    assert (await other.wait_for("message:new")).id == message_id
    assert (await other.wait_for("message:updated")).content == "v2"
    assert (await other.wait_for("message:deleted")).messageId == message_id
    assert (await me.wait_for("channel:left")).channelId == channel_id
    assert (await me.wait_for("server:left")).serverId == server_id
    assert me.off_spec == [] and other.off_spec == []


@pytest.mark.anyio
async def test_a_failed_event_raises_event_failed_and_the_error_event_arrives(
    world: World, clients: Callable[[World, User], Awaitable[ZizanyClient]]
) -> None:
    sara, lina = await world.user("Sara"), await world.user("Lina")
    # A public server: its channel is visible to the outsider, posting is forbidden.
    _, channel_id = await world.server(sara, public=True)
    outsider = await clients(world, lina)
    with pytest.raises(EventFailed) as failed:
        await outsider.message_create(MessageCreate(channelId=channel_id, content="hi"))
    assert (failed.value.code, failed.value.event) == ("E_FORBIDDEN", "message:create")
    assert failed.value.ack.ok is False
    error = await outsider.wait_for("error:permission")
    assert (error.code, error.event) == ("E_FORBIDDEN", "message:create")
    with pytest.raises(TimeoutError):
        await outsider.wait_for("message:new", timeout=0.2)


@pytest.mark.anyio
async def test_events_iterates_over_what_arrived_in_order(
    world: World, clients: Callable[[World, User], Awaitable[ZizanyClient]]
) -> None:
    sara = await world.user("Sara")
    server_id, channel_id = await world.server(sara)
    client = await clients(world, sara)
    await client.server_join(ServerJoin(serverId=server_id))
    await client.channel_join(ChannelJoin(channelId=channel_id))
    names = []
    async with asyncio.timeout(10):
        async for received in client.events():
            names.append(received.event)
            if received.event == "channel:joined":
                break
    assert names[0] == "server:joined"
    assert "presence:update" in names


@pytest.mark.anyio
async def test_connecting_without_a_valid_session_is_refused_with_its_code(
    world: World,
) -> None:
    async with ZizanyClient() as client:
        with pytest.raises(ConnectionRefused) as refused:
            await client.connect(world.live.url, cookie="not-a-session", transports=["websocket"])
        assert refused.value.code == "E_UNAUTHORIZED"
        assert not client.connected


def test_client_base_is_what_the_generated_client_builds_on() -> None:
    assert issubclass(ZizanyClient, ClientBase)
    assert ZizanyClient.COOKIE_NAME == "connect.sid"


TYPED_USE = """
from generated.realtime.client import ZizanyClient
from generated.realtime.models import ChannelJoin, ChannelJoinOk, Message, TypingUpdate


async def good(client: ZizanyClient) -> None:
    joined: ChannelJoinOk = await client.channel_join(ChannelJoin(channelId=1))
    message: Message = await client.wait_for("message:new", where=lambda m: m.id > joined.channelId)
    typing: TypingUpdate = await client.wait_for("typing:update", where=lambda u: u.isTyping)

    @client.on_message_new
    async def show(message: Message) -> None: ...
"""

MISTYPED_USE = {
    "wrong payload model": "await client.channel_join(ChannelJoinOk(ok=True, channelId=1))",
    "wrong reply type": "joined: Message = await client.channel_join(ChannelJoin(channelId=1))",
    "unknown event": 'await client.wait_for("message:nope")',
    "wrong payload in wait": 'typing: Message = await client.wait_for("typing:update")',
    "wrong handler": "client.on_typing_update(lambda m: print(m.content))",
}


def test_mypy_accepts_typed_use_of_the_client_and_rejects_each_mistake(tmp_path: Path) -> None:
    header = TYPED_USE.partition("\n\n\nasync def")[0]
    files = [tmp_path / "typed_good.py"]
    files[0].write_text(TYPED_USE, encoding="utf-8")
    for n, line in enumerate(MISTYPED_USE.values()):
        bad = tmp_path / f"typed_bad_{n}.py"
        bad.write_text(
            f"{header}\n\n\nasync def bad(client: ZizanyClient) -> None:\n    {line}\n",
            encoding="utf-8",
        )
        files.append(bad)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    failing = {Path(m).name for m in re.findall(r"^(\S+\.py):\d+: error", done.stdout, re.M)}
    expected = {f"typed_bad_{n}.py" for n in range(len(MISTYPED_USE))}
    assert failing == expected, done.stdout
