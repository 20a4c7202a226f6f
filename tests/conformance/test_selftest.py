"""The runner catches breaks: deliberately broken servers, each caught, and the real one clean.

Each variant is the real service with one thing broken, the way a real bug would break
it: a handler, announcer or broadcaster method replaced in a subclass (swapped in through
`service.realtime.assembly.Implementations`), sometimes with the runtime
emit validation off (it would otherwise refuse the off-spec payload before it leaves).
The same small campaign runs against every variant and must report the break by the
kind of violation that names it; against the real server it reports nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import BaseModel

from conformance.campaign import Budget, Campaign, RunResult
from conformance.rest import RestSpec
from conformance.spec import Contract
from conformance.target import LocalTarget
from contract_runtime.dispatcher import Operation
from contract_runtime.limits import RateLimit
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
from service.chat.messages import Messages
from service.chat.notifier import Guarded, Notifier
from service.chat.parts import ChatParts
from service.db import channels
from service.realtime.announcer import Announcer
from service.realtime.assembly import Implementations
from service.realtime.broadcaster import Broadcaster
from service.realtime.handlers import Ctx, ZizanyHandlers
from service.realtime.typing_state import Change

pytestmark = pytest.mark.usefixtures("quiet_server_logs")

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


class MissingField(ZizanyHandlers):
    """`message:new` without the required `user` (runtime validation off)."""

    async def on_message_create(self, ctx: Ctx, payload: MessageCreate) -> MessageCreateOk:
        message = await _stored(self, ctx, payload)
        fields = ("id", "channel_id", "content", "created_at", "updated_at")
        broken = Message.model_construct(**{f: getattr(message, f) for f in fields})
        await self.emit.message_new(channel_room(payload.channelId), broken)
        return MessageCreateOk(ok=True, message=message)


async def _stored(handlers: ZizanyHandlers, ctx: Ctx, payload: MessageCreate) -> Message:
    """The message as the real rules store it, without the domain layer's broadcast."""
    parts = handlers.chat.parts
    silent = Messages(
        ChatParts(
            sessionmaker=parts.sessionmaker,
            notifier=Guarded(Notifier()),
            message_rate=parts.message_rate,
            message_writer=parts.message_writer,
        )
    )
    return await silent.post(
        user_id=ctx.principal.user_id,
        username=ctx.principal.username,
        channel_id=payload.channelId,
        content=payload.content,
    )


class UndeclaredEvent(ZizanyHandlers):
    """`server:join` also sends `server:welcome`, which the spec does not declare."""

    async def on_server_join(self, ctx: Ctx, payload: ServerJoin) -> ServerJoinOk:
        answer = await super().on_server_join(ctx, payload)
        await self.sio.emit("server:welcome", {"serverId": payload.serverId}, to=ctx.sid)
        return answer


class WrongRoom(ZizanyHandlers):
    """`message:new` goes to the server room instead of the channel room."""

    async def on_message_create(self, ctx: Ctx, payload: MessageCreate) -> MessageCreateOk:
        message = await _stored(self, ctx, payload)
        async with self.sessionmaker() as session:
            access = await channels.get_channel_access(
                session=session, channel_id=payload.channelId, user_id=ctx.principal.user_id
            )
        assert access is not None
        await self.sio.emit("message:new", dump(message), to=server_room(access.server.id))
        return MessageCreateOk(ok=True, message=message)


class JoinWithoutMembership(ZizanyHandlers):
    """`server:join` lets anyone in: non-members get the server's broadcasts."""

    async def on_server_join(self, ctx: Ctx, payload: ServerJoin) -> ServerJoinOk:
        await self.sio.enter_room(ctx.sid, server_room(payload.serverId))
        await self.emit.server_joined(ctx.sid, ServerJoined(serverId=payload.serverId))
        await self.announcer.announce_presence(payload.serverId)
        return ServerJoinOk(ok=True, serverId=payload.serverId)


class KeepsRemovedMembers(Broadcaster):
    """A removed member's sockets stay in the server's rooms and keep hearing them."""

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        payload = ServerMemberLeft(serverId=server_id, userId=user_id, username=username)
        await self.emitter.server_member_left(server_room(server_id), payload)
        await self.announcer.announce_presence(server_id)


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


class TypistHearsItself(Announcer):
    """`typing:update` reaches the typist too (x-socketio-exclude-sender ignored)."""

    async def announce_typing(self, change: Change) -> None:
        payload = TypingUpdate(
            channelId=change.channel_id,
            userId=change.user_id,
            username=change.username,
            isTyping=change.is_typing,
        )
        # Hand-written past the typed emitter, which would demand the socket to skip.
        await self.hub.sio.emit("typing:update", dump(payload), to=channel_room(change.channel_id))


class RestSaysOtherwise(Broadcaster):
    """A message created over REST reaches the sockets with other content than REST answered."""

    async def message_created(self, message: Message) -> None:
        changed = message.model_copy(update={"content": message.content.upper() + "!"})
        await self.emitter.message_new(channel_room(message.channel_id), changed)


class NoRateLimits(ZizanyHandlers):
    """The spec's `x-rate-limit`s are not enforced (a router bound without its limits)."""

    def rate_limit_of(self, op: Operation) -> RateLimit | None:
        return None


@dataclass(frozen=True)
class Variant:
    """A broken server and the violation kinds that must name its break."""

    name: str
    implementations: Implementations
    caught_as: frozenset[str]
    settings: dict[str, Any] = field(default_factory=dict)


def handlers(kind: type[ZizanyHandlers]) -> Implementations:
    """The real side with these handlers."""
    return Implementations(handlers=kind)


VARIANTS = [
    Variant("missing-field", handlers(MissingField), frozenset({"schema"}), NO_VALIDATION),
    Variant("undeclared-event", handlers(UndeclaredEvent), frozenset({"undeclared"})),
    Variant("wrong-room", handlers(WrongRoom), frozenset({"room"})),
    Variant("join-without-membership", handlers(JoinWithoutMembership), frozenset({"membership"})),
    Variant(
        "removed-member-keeps-rooms",
        Implementations(broadcaster=KeepsRemovedMembers),
        frozenset({"room", "membership"}),
    ),
    Variant(
        "unlisted-error-code",
        handlers(UnlistedErrorCode),
        frozenset({"error-code", "schema"}),
        NO_VALIDATION,
    ),
    Variant(
        "sender-not-excluded",
        Implementations(announcer=TypistHearsItself),
        frozenset({"exclude-sender"}),
    ),
    Variant("no-rate-limits", handlers(NoRateLimits), frozenset({"rate-limit"})),
    Variant(
        "rest-and-socket-disagree",
        Implementations(broadcaster=RestSaysOtherwise),
        frozenset({"agreement"}),
    ),
]


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
    target = LocalTarget(
        tmp_path, implementations=variant.implementations, **variant.settings
    ).start()
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
