"""The Socket.IO server of Zizany: construction, socket index, presence, and REST's effects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
import socketio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from generated.realtime.emitter import Emitter
from generated.realtime.models import (
    Channel,
    ChannelDeleted,
    Message,
    PresenceUpdate,
    ServerDeleted,
    ServerInfo,
    ServerMemberJoined,
    ServerMemberLeft,
    ServerMemberUpdated,
    TypingUpdate,
)
from generated.realtime.models import MessageDeleted as MessageDeletedPayload
from generated.realtime.rooms import channel_room, parse_channel_room, server_room
from generated.realtime.router import bind
from generated.realtime.runtime import SocketId
from service.auth.sessions import Principal
from service.auth.throttle import InMemorySlidingWindow, SlidingWindowCounter
from service.db import channels, memberships, messages
from service.errors import ChannelNotFound, Forbidden, RateLimited
from service.realtime.handlers import ZizanyHandlers
from service.realtime.presence import InMemoryPresence, Presence
from service.realtime.typing_state import Change, TypingTracker
from service.settings import Settings
from service.wire import message_out

log = logging.getLogger("zizany.realtime")


class OrjsonJSON:
    """The json module python-socketio calls, backed by orjson (str out, as it expects)."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        """Encode to a str."""
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        """Decode."""
        return orjson.loads(data)


class Realtime:
    """Owns the AsyncServer, the generated emitter and router, presence and typing state."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret: str,
        presence: Presence | None = None,
        message_rate: SlidingWindowCounter | None = None,
        client_manager: socketio.AsyncManager | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.secret = secret
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=client_manager,
            cors_allowed_origins=list(settings.allowed_origins),
            cors_credentials=True,
            json=OrjsonJSON,
            transports=["polling", "websocket"],
            max_http_buffer_size=settings.max_body_bytes,
        )
        self.emitter = Emitter(
            self.sio, strict=settings.strict_emits, validate=settings.validate_emits
        )
        self.emitter.registry.compile_all()
        self.presence: Presence = presence or InMemoryPresence()
        self.typing = TypingTracker(settings.typing_timeout_seconds, self.announce_typing)
        self.message_rate: SlidingWindowCounter = message_rate or InMemorySlidingWindow(
            limit=settings.message_rate_limit,
            window_seconds=settings.message_rate_window_seconds,
        )
        self._sids_by_session: dict[str, set[str]] = {}
        self._sids_by_user: dict[int, set[str]] = {}
        self.handlers = ZizanyHandlers(self)
        self.dispatcher = bind(self.sio, self.handlers, self.emitter)

    def asgi(self, other_app: Callable[..., Any]) -> socketio.ASGIApp:
        """One ASGI app: Socket.IO under /socket.io, everything else to `other_app`."""
        return socketio.ASGIApp(self.sio, other_asgi_app=other_app, socketio_path="socket.io")

    # ---- socket life cycle ---------------------------------------------------------------

    async def socket_connected(self, sid: SocketId, principal: Principal) -> None:
        """Index the socket; a user's first socket brings them online in their servers."""
        self._sids_by_session.setdefault(principal.session_id, set()).add(sid)
        self._sids_by_user.setdefault(principal.user_id, set()).add(sid)
        if await self.presence.connect(principal.user_id, sid):
            await self._announce_presence_of(principal.user_id)

    async def socket_disconnected(self, sid: SocketId, principal: Principal) -> None:
        """End the socket's typing; a user's last socket takes them offline."""
        for change in self.typing.drop_socket(sid):
            await self.announce_typing(change)
        _discard(self._sids_by_session, principal.session_id, sid)
        _discard(self._sids_by_user, principal.user_id, sid)
        if await self.presence.disconnect(principal.user_id, sid):
            await self._announce_presence_of(principal.user_id)

    async def _announce_presence_of(self, user_id: int) -> None:
        async with self.sessionmaker() as session:
            server_ids = await memberships.list_server_ids_of_user(session=session, user_id=user_id)
        for server_id in server_ids:
            await self.announce_presence(server_id)

    async def announce_presence(self, server_id: int) -> None:
        """`presence:update` to the server room: its members with a connected socket."""
        async with self.sessionmaker() as session:
            member_ids = await memberships.list_member_user_ids(
                session=session, server_id=server_id
            )
        online = sorted(await self.presence.online(member_ids))
        await self.emitter.presence_update(
            server_room(server_id), PresenceUpdate(serverId=server_id, onlineUserIds=online)
        )

    async def announce_typing(self, change: Change) -> None:
        """`typing:update` to the channel room, the socket that caused it excluded."""
        payload = TypingUpdate(
            channelId=change.channel_id,
            userId=change.user_id,
            username=change.username,
            isTyping=change.is_typing,
        )
        await self.emitter.typing_update(
            channel_room(change.channel_id), payload, skip_sid=SocketId(change.sid)
        )

    async def leave_channel_room(self, sid: str, channel_id: int) -> None:
        """Take a socket out of a channel room, ending its typing there."""
        await self.sio.leave_room(sid, channel_room(channel_id))
        for change in self.typing.drop_socket(sid, channel_id):
            await self.announce_typing(change)

    # ---- messages ------------------------------------------------------------------------

    async def check_message_rate(self, user_id: int) -> None:
        """Raise RateLimited when the user sent too many messages in the window."""
        wait = await self.message_rate.acquire(f"messages:{user_id}")
        if wait is not None:
            raise RateLimited(wait, f"too many messages, retry in {wait:.1f} s")

    async def store_message(self, *, user_id: int, channel_id: int, content: str) -> Message:
        """Check access and store a message (trimmed); the stored message's wire form."""
        async with self.sessionmaker() as session:
            access = await channels.get_channel_access(
                session=session, channel_id=channel_id, user_id=user_id
            )
            if access is None:
                raise ChannelNotFound(channel_id)
            if access.role is None:
                raise Forbidden(f"not a member of the server of channel {channel_id!r}")
            row = await messages.create_message(
                session=session, channel_id=channel_id, user_id=user_id, content=content.strip()
            )
            await session.commit()
            found = await messages.get_authored_message(session=session, message_id=row.id or 0)
        assert found is not None
        return message_out(found)

    # ---- the Notifier protocol: what REST changes do to sockets ---------------------------

    async def message_created(self, message: Message) -> None:
        """`message:new` to the message's channel room."""
        await self.emitter.message_new(channel_room(message.channel_id), message)

    async def message_updated(self, message: Message) -> None:
        """`message:updated` to the message's channel room."""
        await self.emitter.message_updated(channel_room(message.channel_id), message)

    async def message_deleted(self, *, message_id: int, channel_id: int) -> None:
        """`message:deleted` to the channel room."""
        payload = MessageDeletedPayload(messageId=message_id, channelId=channel_id)
        await self.emitter.message_deleted(channel_room(channel_id), payload)

    async def member_joined(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_joined` and `presence:update` to the server room."""
        payload = ServerMemberJoined(serverId=server_id, userId=user_id, username=username)
        await self.emitter.server_member_joined(server_room(server_id), payload)
        await self.announce_presence(server_id)

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_left`; the user's sockets leave the server's rooms at once; presence."""
        payload = ServerMemberLeft(serverId=server_id, userId=user_id, username=username)
        await self.emitter.server_member_left(server_room(server_id), payload)
        async with self.sessionmaker() as session:
            channel_ids = {
                c.id for c in await channels.list_channels(session=session, server_id=server_id)
            }
        for sid in list(self._sids_by_user.get(user_id, ())):
            await self.sio.leave_room(sid, server_room(server_id))
            for room in list(self.sio.rooms(sid)):
                channel_id = parse_channel_room(room)
                if channel_id is not None and channel_id in channel_ids:
                    await self.leave_channel_room(sid, channel_id)
        await self.announce_presence(server_id)

    async def member_updated(self, *, server_id: int, user_id: int, role: str) -> None:
        """`server:member_updated` to the server room."""
        payload = ServerMemberUpdated.model_validate(
            {"serverId": server_id, "userId": user_id, "role": role}
        )
        await self.emitter.server_member_updated(server_room(server_id), payload)

    async def server_updated(self, server: ServerInfo) -> None:
        """`server:updated` to the server room."""
        await self.emitter.server_updated(server_room(server.id), server)

    async def server_deleted(self, *, server_id: int, channel_ids: list[int]) -> None:
        """`server:deleted`, then every socket leaves the server's and its channels' rooms."""
        await self.emitter.server_deleted(server_room(server_id), ServerDeleted(serverId=server_id))
        await self.sio.close_room(server_room(server_id))
        for channel_id in channel_ids:
            self.typing.drop_channel(channel_id)
            await self.sio.close_room(channel_room(channel_id))

    async def channel_created(self, channel: Channel) -> None:
        """`channel:created` to the server room."""
        await self.emitter.channel_created(server_room(channel.server_id), channel)

    async def channel_updated(self, channel: Channel) -> None:
        """`channel:updated` to the server room."""
        await self.emitter.channel_updated(server_room(channel.server_id), channel)

    async def channel_deleted(self, *, channel_id: int, server_id: int) -> None:
        """`channel:deleted` to the server room, then every socket leaves the channel room."""
        payload = ChannelDeleted(channelId=channel_id, serverId=server_id)
        await self.emitter.channel_deleted(server_room(server_id), payload)
        self.typing.drop_channel(channel_id)
        await self.sio.close_room(channel_room(channel_id))

    async def session_ended(self, session_id: str) -> None:
        """Disconnect every socket authenticated with that session (logout)."""
        for sid in list(self._sids_by_session.get(session_id, ())):
            await self.sio.disconnect(sid)

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Which of these users have at least one connected socket."""
        return await self.presence.online(user_ids)


def _discard(index: dict[Any, set[str]], key: Any, sid: str) -> None:
    sids = index.get(key)
    if sids is not None:
        sids.discard(sid)
        if not sids:
            del index[key]


def create_realtime(
    *, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], secret: str
) -> Realtime:
    """The real-time side for one process (in-process presence on the embedded default)."""
    return Realtime(settings=settings, sessionmaker=sessionmaker, secret=secret)
