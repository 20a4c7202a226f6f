"""The runner catches breaks: deliberately broken servers, each caught, and the real one clean.

Each variant is the real service with one thing broken, the way a real bug would break
it: a handler or a Realtime method replaced in a subclass, sometimes with the runtime
emit validation off (it would otherwise refuse the off-spec payload before it leaves).
The same small campaign runs against every variant and must report the break by the
kind of violation that names it; against the real server it reports nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import BaseModel

from conformance.campaign import Budget, Campaign, RunResult
from conformance.rest import RestSpec
from conformance.spec import Contract
from conformance.target import LocalTarget
from contract_runtime.schemas import dump
from generated.realtime.models import (
    ErrorNotFound,
    Message,
    MessageCreate,
    MessageCreateOk,
    ServerJoin,
    ServerJoined,
    ServerJoinOk,
    ServerLeave,
    ServerLeaveOk,
    ServerMemberLeft,
    TypingUpdate,
)
from generated.realtime.rooms import channel_room, server_room
from service.db import channels
from service.realtime.handlers import Ctx, ZizanyHandlers
from service.realtime.server import Realtime
from service.realtime.typing_state import Change

# Small, but it passes through every phase that can show each break.
SMALL = Budget(
    seed=7,
    valid_per_op=4,
    invalid_per_op=0,
    edge_invalid=False,
    burst_rounds=0,
    after_rest_valid=9,
    flood=0,
)
NO_VALIDATION: dict[str, Any] = {"validate_emits": False, "strict_emits": False}


def with_handlers(handlers: type[ZizanyHandlers]) -> Callable[..., Realtime]:
    """A Realtime whose operations are handled by `handlers`."""

    def make(**kwargs: Any) -> Realtime:
        rt = Realtime(**kwargs)
        rt.handlers = handlers(rt)
        rt.dispatcher.handlers = rt.handlers
        return rt

    return make


class MissingField(ZizanyHandlers):
    """`message:new` without the required `user` (runtime validation off)."""

    async def on_message_create(self, ctx: Ctx, payload: MessageCreate) -> MessageCreateOk:
        await self.rt.check_message_rate(ctx.principal.user_id)
        message = await self.rt.store_message(
            user_id=ctx.principal.user_id,
            username=ctx.principal.username,
            channel_id=payload.channelId,
            content=payload.content,
        )
        fields = ("id", "channel_id", "content", "created_at", "updated_at")
        broken = Message.model_construct(**{f: getattr(message, f) for f in fields})
        await self.emit.message_new(channel_room(payload.channelId), broken)
        return MessageCreateOk(ok=True, message=message)


class UndeclaredEvent(ZizanyHandlers):
    """`server:join` also sends `server:welcome`, which the spec does not declare."""

    async def on_server_join(self, ctx: Ctx, payload: ServerJoin) -> ServerJoinOk:
        answer = await super().on_server_join(ctx, payload)
        await self.rt.sio.emit("server:welcome", {"serverId": payload.serverId}, to=ctx.sid)
        return answer


class WrongRoom(ZizanyHandlers):
    """`message:new` goes to the server room instead of the channel room."""

    async def on_message_create(self, ctx: Ctx, payload: MessageCreate) -> MessageCreateOk:
        await self.rt.check_message_rate(ctx.principal.user_id)
        message = await self.rt.store_message(
            user_id=ctx.principal.user_id,
            username=ctx.principal.username,
            channel_id=payload.channelId,
            content=payload.content,
        )
        async with self.rt.sessionmaker() as session:
            access = await channels.get_channel_access(
                session=session, channel_id=payload.channelId, user_id=ctx.principal.user_id
            )
        assert access is not None
        await self.rt.sio.emit("message:new", dump(message), to=server_room(access.server.id))
        return MessageCreateOk(ok=True, message=message)


class JoinWithoutMembership(ZizanyHandlers):
    """`server:join` lets anyone in: non-members get the server's broadcasts."""

    async def on_server_join(self, ctx: Ctx, payload: ServerJoin) -> ServerJoinOk:
        await self.rt.sio.enter_room(ctx.sid, server_room(payload.serverId))
        await self.emit.server_joined(ctx.sid, ServerJoined(serverId=payload.serverId))
        await self.rt.announce_presence(payload.serverId)
        return ServerJoinOk(ok=True, serverId=payload.serverId)


class KeepsRemovedMembers(Realtime):
    """A removed member's sockets stay in the server's rooms and keep hearing them."""

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        payload = ServerMemberLeft(serverId=server_id, userId=user_id, username=username)
        await self.emitter.server_member_left(server_room(server_id), payload)
        await self.announce_presence(server_id)


class _Gone(BaseModel):
    ok: bool
    code: str
    message: str


class UnlistedErrorCode(ZizanyHandlers):
    """`server:leave` answers a code the spec does not have (runtime validation off)."""

    async def on_server_leave(self, ctx: Ctx, payload: ServerLeave) -> ServerLeaveOk:
        gone: Any = "E_SERVER_GONE"  # not a code of the spec: the point of this variant
        error = ErrorNotFound.model_construct(code=gone, event="server:leave")
        await self.emit.error_not_found(ctx.sid, error)
        return cast(ServerLeaveOk, _Gone(ok=False, code="E_SERVER_GONE", message="gone"))


class TypistHearsItself(Realtime):
    """`typing:update` reaches the typist too (x-socketio-exclude-sender ignored)."""

    async def announce_typing(self, change: Change) -> None:
        payload = TypingUpdate(
            channelId=change.channel_id,
            userId=change.user_id,
            username=change.username,
            isTyping=change.is_typing,
        )
        # Hand-written past the typed emitter, which would demand the socket to skip.
        await self.sio.emit("typing:update", dump(payload), to=channel_room(change.channel_id))


class RestSaysOtherwise(Realtime):
    """A message created over REST reaches the sockets with other content than REST answered."""

    async def message_created(self, message: Message) -> None:
        changed = message.model_copy(update={"content": message.content.upper() + "!"})
        await self.emitter.message_new(channel_room(message.channel_id), changed)


@dataclass(frozen=True)
class Variant:
    """A broken server and the violation kinds that must name its break."""

    name: str
    realtime: Callable[..., Realtime]
    caught_as: frozenset[str]
    settings: dict[str, Any] = field(default_factory=dict)


VARIANTS = [
    Variant("missing-field", with_handlers(MissingField), frozenset({"schema"}), NO_VALIDATION),
    Variant("undeclared-event", with_handlers(UndeclaredEvent), frozenset({"undeclared"})),
    Variant("wrong-room", with_handlers(WrongRoom), frozenset({"room"})),
    Variant(
        "join-without-membership",
        with_handlers(JoinWithoutMembership),
        frozenset({"membership"}),
    ),
    Variant("removed-member-keeps-rooms", KeepsRemovedMembers, frozenset({"room", "membership"})),
    Variant(
        "unlisted-error-code",
        with_handlers(UnlistedErrorCode),
        frozenset({"error-code", "schema"}),
        NO_VALIDATION,
    ),
    Variant("sender-not-excluded", TypistHearsItself, frozenset({"exclude-sender"})),
    Variant("rest-and-socket-disagree", RestSaysOtherwise, frozenset({"agreement"})),
]


@pytest.fixture(autouse=True)
def _quiet_server_logs() -> Iterator[None]:
    """The broken servers log what they break; the tests read the runner's report instead."""
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def small_campaign(target: LocalTarget, contract: Contract, rest_spec: RestSpec) -> RunResult:
    """The self-test's campaign against a started target."""

    async def run() -> RunResult:
        try:
            return await Campaign(
                target.url, contract, rest_spec, budget=SMALL, fingerprint=target.fingerprint
            ).run()
        finally:
            await target.close_reader()

    return asyncio.run(run())


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_the_runner_catches_a_server_that_breaks_the_contract(
    variant: Variant, tmp_path: Path, contract: Contract, rest_spec: RestSpec
) -> None:
    target = LocalTarget(tmp_path, realtime_factory=variant.realtime, **variant.settings).start()
    try:
        result = small_campaign(target, contract, rest_spec)
    finally:
        target.stop()
    found = {v.kind for v in result.unexplained}
    examples = "\n".join(str(v) for v in result.unexplained[:10])
    assert variant.caught_as <= found, f"{variant.name}: found only {found}\n{examples}"


def test_the_same_campaign_finds_nothing_wrong_with_the_real_server(
    tmp_path: Path, contract: Contract, rest_spec: RestSpec
) -> None:
    target = LocalTarget(tmp_path).start()
    try:
        result = small_campaign(target, contract, rest_spec)
    finally:
        target.stop()
    assert result.ok, "\n".join(str(v) for v in result.unexplained[:20])
    assert result.coverage.checked > 500
