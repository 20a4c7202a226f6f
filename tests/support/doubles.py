"""Handler doubles for the generated router: small, recording, failing on purpose for some ids.

Shared by the live-server tests (test_router.py) and the in-process ones (test_dispatcher.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from contract_runtime.dispatcher import Context
from contract_runtime.emitter import SocketId
from contract_runtime.errors import ContractError
from generated.realtime.emitter import Emitter
from generated.realtime.models import (
    ChannelJoin,
    ChannelJoinOk,
    ChannelLeave,
    ChannelLeaveOk,
    Message,
    MessageCreate,
    MessageCreateOk,
    MessageDelete,
    MessageDeleteOk,
    MessageUpdate,
    MessageUpdateOk,
    ServerJoin,
    ServerJoined,
    ServerJoinOk,
    ServerLeave,
    ServerLeaveOk,
    TypingStart,
    TypingStartOk,
    TypingStop,
    TypingStopOk,
    UserSummary,
)
from generated.realtime.rooms import channel_room
from generated.realtime.router import SocketHandlers

FORBIDDEN, CRASH, UNDECLARED, OFF_SPEC_ACK = 13, 66, 77, 88


def a_message(channel_id: int, content: str) -> Message:
    return Message(
        id=1,
        channel_id=channel_id,
        content=content,
        created_at="2026-02-02T12:00:00.000Z",
        updated_at="2026-02-02T12:00:00.000Z",
        user=UserSummary(id=2, username="Sara"),
    )


class Doubles(SocketHandlers[str]):
    """Records calls; fails on purpose for some ids."""

    def __init__(self, emitter: Emitter) -> None:
        self.emitter = emitter
        self.calls: list[tuple[str, Any]] = []

    async def authenticate(self, sid: SocketId, environ: Mapping[str, Any]) -> str | None:
        return environ.get("HTTP_X_USER")

    async def on_server_join(self, ctx: Context[str], payload: ServerJoin) -> ServerJoinOk:
        self.calls.append((ctx.event, payload))
        if payload.serverId == FORBIDDEN:
            raise ContractError(f"{ctx.principal} is not a member", code="E_FORBIDDEN")
        if payload.serverId == CRASH:
            raise RuntimeError("a bug in a handler")
        if payload.serverId == UNDECLARED:
            raise ContractError("not declared for server:join", code="E_MESSAGE_NOT_FOUND")
        if payload.serverId == OFF_SPEC_ACK:
            return ServerJoinOk.model_construct(ok=True, serverId=0)
        await self.emitter.server_joined(ctx.sid, ServerJoined(serverId=payload.serverId))
        return ServerJoinOk(ok=True, serverId=payload.serverId)

    async def on_channel_join(self, ctx: Context[str], payload: ChannelJoin) -> ChannelJoinOk:
        self.calls.append((ctx.event, payload))
        await self.emitter.sio.enter_room(ctx.sid, channel_room(payload.channelId))
        return ChannelJoinOk(ok=True, channelId=payload.channelId)

    async def on_typing_start(self, ctx: Context[str], payload: TypingStart) -> TypingStartOk:
        return TypingStartOk(ok=True, channelId=payload.channelId)

    async def on_typing_stop(self, ctx: Context[str], payload: TypingStop) -> TypingStopOk:
        return TypingStopOk(ok=True, channelId=payload.channelId)

    async def on_message_create(self, ctx: Context[str], payload: MessageCreate) -> MessageCreateOk:
        self.calls.append((ctx.event, payload))
        if payload.content.startswith("slow"):
            await asyncio.sleep(0.05)
        message = a_message(payload.channelId, payload.content)
        await self.emitter.message_new(channel_room(payload.channelId), message)
        return MessageCreateOk(ok=True, message=message)

    async def on_server_leave(self, ctx: Context[str], payload: ServerLeave) -> ServerLeaveOk:
        return ServerLeaveOk(ok=True, serverId=payload.serverId)

    async def on_channel_leave(self, ctx: Context[str], payload: ChannelLeave) -> ChannelLeaveOk:
        return ChannelLeaveOk(ok=True, channelId=payload.channelId)

    async def on_message_update(self, ctx: Context[str], payload: MessageUpdate) -> MessageUpdateOk:
        return MessageUpdateOk(ok=True, message=a_message(1, payload.content))

    async def on_message_delete(self, ctx: Context[str], payload: MessageDelete) -> MessageDeleteOk:
        return MessageDeleteOk(ok=True, messageId=payload.messageId, channelId=1)
