"""The service's implementation of every client → server operation of the contract.

Each handler reads like the spec: check access, one query, one typed emit, the reply.
Domain errors (service.errors) are ContractErrors: the generated router turns them
into the spec's error events and failed acks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

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
    MessageDeleted,
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
from generated.realtime.runtime import Context, SocketId
from service.auth.sessions import Principal, principal_from_cookie_header
from service.db import channels, memberships, messages
from service.errors import ChannelNotFound, Forbidden, MessageNotFound
from service.text import trim
from service.wire import message_out

if TYPE_CHECKING:
    from service.realtime.server import Realtime

Ctx = Context[Principal]
MODERATORS = ("owner", "admin")


class ZizanyHandlers(SocketHandlers[Principal]):
    """Every receive operation of spec/asyncapi.yaml."""

    def __init__(self, rt: Realtime) -> None:
        self.rt = rt
        self.emit = rt.emitter

    async def authenticate(self, sid: SocketId, environ: Mapping[str, Any]) -> Principal | None:
        """The REST session behind the handshake's `connect.sid` cookie."""
        return await principal_from_cookie_header(
            sessionmaker=self.rt.sessionmaker,
            secret=self.rt.secret,
            cookie_header=environ.get("HTTP_COOKIE"),
        )

    async def on_connected(self, ctx: Ctx) -> None:
        """Index the socket; a user's first socket makes them online in their servers."""
        await self.rt.socket_connected(ctx.sid, ctx.principal)

    async def on_disconnected(self, ctx: Ctx) -> None:
        """End its typing; a user's last socket makes them offline."""
        await self.rt.socket_disconnected(ctx.sid, ctx.principal)

    async def on_server_join(self, ctx: Ctx, payload: ServerJoin) -> ServerJoinOk:
        """Members only (a missing server answers the same E_FORBIDDEN: no probing)."""
        async with self.rt.sessionmaker() as session:
            role = await memberships.get_role(
                session=session, server_id=payload.serverId, user_id=ctx.principal.user_id
            )
        if role is None:
            raise Forbidden(f"not a member of server {payload.serverId!r}")
        await self.rt.sio.enter_room(ctx.sid, server_room(payload.serverId))
        await self.emit.server_joined(ctx.sid, ServerJoined(serverId=payload.serverId))
        await self.rt.announce_presence(payload.serverId)
        return ServerJoinOk(ok=True, serverId=payload.serverId)

    async def on_channel_join(self, ctx: Ctx, payload: ChannelJoin) -> ChannelJoinOk:
        """Load the channel and its server, check membership, join the room."""
        async with self.rt.sessionmaker() as session:
            access = await channels.get_channel_access(
                session=session, channel_id=payload.channelId, user_id=ctx.principal.user_id
            )
        if access is None:
            raise ChannelNotFound(payload.channelId)
        if access.role is None:
            raise Forbidden(f"not a member of the server of channel {payload.channelId!r}")
        await self.rt.sio.enter_room(ctx.sid, channel_room(payload.channelId))
        await self.emit.channel_joined(ctx.sid, ChannelJoined(channelId=payload.channelId))
        return ChannelJoinOk(ok=True, channelId=payload.channelId)

    async def on_typing_start(self, ctx: Ctx, payload: TypingStart) -> TypingStartOk:
        """Only from a socket in the channel's room; announced on a change of state."""
        self._require_in_channel_room(ctx, payload.channelId)
        p = ctx.principal
        change = await self.rt.typing.start(payload.channelId, p.user_id, p.username, ctx.sid)
        if change is not None:
            await self.rt.announce_typing(change)
        return TypingStartOk(ok=True, channelId=payload.channelId)

    async def on_typing_stop(self, ctx: Ctx, payload: TypingStop) -> TypingStopOk:
        """Only from a socket in the channel's room; announced on a change of state."""
        self._require_in_channel_room(ctx, payload.channelId)
        change = await self.rt.typing.stop(payload.channelId, ctx.principal.user_id, ctx.sid)
        if change is not None:
            await self.rt.announce_typing(change)
        return TypingStopOk(ok=True, channelId=payload.channelId)

    async def on_message_create(self, ctx: Ctx, payload: MessageCreate) -> MessageCreateOk:
        """Rate-limit, check access, store, then broadcast the stored message."""
        await self.rt.check_message_rate(ctx.principal.user_id)
        message = await self.rt.store_message(
            user_id=ctx.principal.user_id,
            username=ctx.principal.username,
            channel_id=payload.channelId,
            content=payload.content,
        )
        await self.emit.message_new(channel_room(payload.channelId), message)
        return MessageCreateOk(ok=True, message=message)

    async def on_message_update(self, ctx: Ctx, payload: MessageUpdate) -> MessageUpdateOk:
        """The author only; `message:updated` to the channel room."""
        user_id = ctx.principal.user_id
        async with self.rt.sessionmaker() as session:
            found, _ = await self._visible_message(session, payload.messageId, user_id)
            if found.message.user_id != user_id:
                raise Forbidden(f"only its author may edit message {payload.messageId!r}")
            row = await messages.update_message(
                session=session, message_id=payload.messageId, content=trim(payload.content)
            )
            await session.commit()
        message = message_out(messages.AuthoredMessage(message=row, username=found.username))
        await self.emit.message_updated(channel_room(message.channel_id), message)
        return MessageUpdateOk(ok=True, message=message)

    async def on_message_delete(self, ctx: Ctx, payload: MessageDelete) -> MessageDeleteOk:
        """The author, an admin or the owner; `message:deleted` to the channel room."""
        user_id = ctx.principal.user_id
        async with self.rt.sessionmaker() as session:
            found, role = await self._visible_message(session, payload.messageId, user_id)
            if found.message.user_id != user_id and role not in MODERATORS:
                raise Forbidden(f"you may not delete message {payload.messageId!r}")
            await messages.delete_message(session=session, message_id=payload.messageId)
            await session.commit()
        deleted = MessageDeleted(messageId=payload.messageId, channelId=found.message.channel_id)
        await self.emit.message_deleted(channel_room(deleted.channelId), deleted)
        return MessageDeleteOk(ok=True, messageId=deleted.messageId, channelId=deleted.channelId)

    async def on_server_leave(self, ctx: Ctx, payload: ServerLeave) -> ServerLeaveOk:
        """Leave the room (not the membership); idempotent."""
        await self.rt.sio.leave_room(ctx.sid, server_room(payload.serverId))
        await self.emit.server_left(ctx.sid, ServerLeft(serverId=payload.serverId))
        return ServerLeaveOk(ok=True, serverId=payload.serverId)

    async def on_channel_leave(self, ctx: Ctx, payload: ChannelLeave) -> ChannelLeaveOk:
        """Leave the room and end this socket's typing there; idempotent."""
        await self.rt.leave_channel_room(ctx.sid, payload.channelId)
        await self.emit.channel_left(ctx.sid, ChannelLeft(channelId=payload.channelId))
        return ChannelLeaveOk(ok=True, channelId=payload.channelId)

    def _require_in_channel_room(self, ctx: Ctx, channel_id: int) -> None:
        if channel_room(channel_id) not in self.rt.sio.rooms(ctx.sid):
            raise Forbidden(f"join channel {channel_id!r} before typing in it")

    async def _visible_message(
        self, session: AsyncSession, message_id: int, user_id: int
    ) -> tuple[messages.AuthoredMessage, str]:
        """The message and the user's role in its server; not found unless they can see it."""
        found = await messages.get_authored_message(session=session, message_id=message_id)
        access = (
            None
            if found is None
            else await channels.get_channel_access(
                session=session, channel_id=found.message.channel_id, user_id=user_id
            )
        )
        if found is None or access is None or access.role is None:
            raise MessageNotFound(message_id)
        return found, access.role
