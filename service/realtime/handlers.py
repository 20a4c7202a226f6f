"""Every client → server operation of the contract, as a thin adapter over service.chat.

Each handler parses nothing itself (the generated router validated the payload), calls
the domain layer or the room and typing parts, and returns the ack. Domain errors
(service.errors) are ContractErrors: the generated router turns them into the spec's
error events and failed acks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from contract_runtime.dispatcher import Context, Operation
from contract_runtime.emitter import SocketId
from contract_runtime.limits import RateLimit
from generated.realtime.models import (
    ChannelJoin,
    ChannelJoined,
    ChannelJoinOk,
    ChannelLeave,
    ChannelLeaveOk,
    ChannelLeft,
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
    ServerLeft,
    TypingStart,
    TypingStartOk,
    TypingStop,
    TypingStopOk,
)
from generated.realtime.rooms import channel_room, server_room
from generated.realtime.router import SocketHandlers
from service.auth.logins import Principal, principal_from_cookie_header
from service.chat.domain import Chat
from service.chat.saturation import Saturation
from service.errors import Forbidden
from service.realtime.announcer import Announcer

Ctx = Context[Principal]


class ZizanyHandlers(SocketHandlers[Principal]):
    """Every receive operation of spec/asyncapi.yaml."""

    def __init__(
        self,
        *,
        chat: Chat,
        announcer: Announcer,
        secret: str,
        rooms_are_exact: bool = False,
        saturation: Saturation | None = None,
        limits: Mapping[str, RateLimit] | None = None,
    ) -> None:
        self.chat = chat
        self.saturation = saturation
        self.limits = dict(limits) if limits is not None else None
        self.rooms_are_exact = rooms_are_exact
        self.announcer = announcer
        self.sio = announcer.hub.sio
        self.emit = announcer.hub.emitter
        self.sessionmaker = announcer.sessionmaker
        self.secret = secret

    async def authenticate(self, sid: SocketId, environ: Mapping[str, Any]) -> Principal | None:
        """The login behind the handshake's `connect.sid` cookie."""
        return await principal_from_cookie_header(
            sessionmaker=self.sessionmaker,
            secret=self.secret,
            cookie_header=environ.get("HTTP_COOKIE"),
        )

    def rate_subject(self, principal: Principal) -> str:
        """Rate limits count per user, across their sockets (and processes, with Redis)."""
        return str(principal.user_id)

    def rate_limit_of(self, op: Operation) -> RateLimit | None:
        """The spec's limit with this deployment's values (service.limits)."""
        if self.limits is None:
            return op.rate_limit
        return self.limits.get(op.event, op.rate_limit)

    async def on_connected(self, ctx: Ctx) -> None:
        """Index the socket; a user's first socket makes them online in their servers."""
        await self.announcer.socket_connected(ctx.sid, ctx.principal)

    async def on_disconnected(self, ctx: Ctx) -> None:
        """End its typing; a user's last socket makes them offline."""
        await self.announcer.socket_disconnected(ctx.sid, ctx.principal)

    async def on_server_join(self, ctx: Ctx, payload: ServerJoin) -> ServerJoinOk:
        """Members only (a missing or private server answers the same E_FORBIDDEN)."""
        server_id = payload.serverId
        await self.chat.servers.require_member(user_id=ctx.principal.user_id, server_id=server_id)
        await self.sio.enter_room(ctx.sid, server_room(server_id))
        await self.emit.server_joined(ctx.sid, ServerJoined(serverId=server_id))
        await self.announcer.announce_presence(server_id)
        return ServerJoinOk(ok=True, serverId=server_id)

    async def on_channel_join(self, ctx: Ctx, payload: ChannelJoin) -> ChannelJoinOk:
        """Members of the channel's server only (service.chat.access), then the room."""
        channel_id = payload.channelId
        await self.chat.channels.require_member(
            user_id=ctx.principal.user_id, channel_id=channel_id
        )
        await self.sio.enter_room(ctx.sid, channel_room(channel_id))
        await self.emit.channel_joined(ctx.sid, ChannelJoined(channelId=channel_id))
        return ChannelJoinOk(ok=True, channelId=channel_id)

    async def on_typing_start(self, ctx: Ctx, payload: TypingStart) -> TypingStartOk:
        """Only from a socket in the channel's room; announced on a change of state."""
        self._require_in_channel_room(ctx, payload.channelId)
        await self.announcer.typing_started(ctx.sid, ctx.principal, payload.channelId)
        return TypingStartOk(ok=True, channelId=payload.channelId)

    async def on_typing_stop(self, ctx: Ctx, payload: TypingStop) -> TypingStopOk:
        """Only from a socket in the channel's room; announced on a change of state."""
        self._require_in_channel_room(ctx, payload.channelId)
        await self.announcer.typing_stopped(ctx.sid, ctx.principal, payload.channelId)
        return TypingStopOk(ok=True, channelId=payload.channelId)

    async def on_message_create(self, ctx: Ctx, payload: MessageCreate) -> MessageCreateOk:
        """Post through the domain layer (which broadcasts `message:new`); ack the message.

        An event that waited too long for its socket's turn is refused (E_RATE_LIMITED):
        this sender sends faster than the server handles (service.chat.saturation).
        """
        if self.saturation is not None and ctx.received:
            self.saturation.admit_queued(time.monotonic() - ctx.received)
        # In one process a socket in the channel's room is a member: only members enter
        # it and revocation empties it at once. Across processes a revocation reaches the
        # other processes' rooms a moment later, so there the database answers.
        member = self.rooms_are_exact and channel_room(payload.channelId) in self.sio.rooms(ctx.sid)
        message = await self.chat.messages.post(
            user_id=ctx.principal.user_id,
            username=ctx.principal.username,
            channel_id=payload.channelId,
            content=payload.content,
            member=member,
        )
        return MessageCreateOk(ok=True, message=message)

    async def on_message_update(self, ctx: Ctx, payload: MessageUpdate) -> MessageUpdateOk:
        """The author only; the domain layer broadcasts `message:updated`."""
        message = await self.chat.messages.edit(
            user_id=ctx.principal.user_id, message_id=payload.messageId, content=payload.content
        )
        return MessageUpdateOk(ok=True, message=message)

    async def on_message_delete(self, ctx: Ctx, payload: MessageDelete) -> MessageDeleteOk:
        """The author, an admin or the owner; the domain layer broadcasts `message:deleted`."""
        deleted = await self.chat.messages.delete(
            user_id=ctx.principal.user_id, message_id=payload.messageId
        )
        return MessageDeleteOk(ok=True, messageId=deleted.message_id, channelId=deleted.channel_id)

    async def on_server_leave(self, ctx: Ctx, payload: ServerLeave) -> ServerLeaveOk:
        """Leave the room (not the membership); idempotent."""
        await self.sio.leave_room(ctx.sid, server_room(payload.serverId))
        await self.emit.server_left(ctx.sid, ServerLeft(serverId=payload.serverId))
        return ServerLeaveOk(ok=True, serverId=payload.serverId)

    async def on_channel_leave(self, ctx: Ctx, payload: ChannelLeave) -> ChannelLeaveOk:
        """Leave the room and end this socket's typing there; idempotent."""
        await self.announcer.leave_channel_room(ctx.sid, payload.channelId)
        await self.emit.channel_left(ctx.sid, ChannelLeft(channelId=payload.channelId))
        return ChannelLeaveOk(ok=True, channelId=payload.channelId)

    def _require_in_channel_room(self, ctx: Ctx, channel_id: int) -> None:
        if channel_room(channel_id) not in self.sio.rooms(ctx.sid):
            raise Forbidden(f"join channel {channel_id!r} before typing in it")
