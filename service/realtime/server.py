"""The Socket.IO server of Zizany: construction, socket index, presence, and REST's effects."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

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
from service.auth.throttle import InMemorySlidingWindow, LoginThrottle, SlidingWindowCounter
from service.db import channels, memberships, messages
from service.errors import ChannelNotFound, Forbidden, RateLimited
from service.realtime.fanout import DirectFanoutManager
from service.realtime.handlers import ZizanyHandlers
from service.realtime.presence import InMemoryPresence, Presence
from service.realtime.typing_state import Change, TypingStore, TypingTracker
from service.settings import Settings
from service.text import trim
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
        """Decode; what orjson refuses (e.g. integers beyond 64 bits) goes to json.

        A payload with such a number must reach validation (and get error:validation),
        not be dropped as undecodable.
        """
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return json.loads(data)


class Backplane(Protocol):
    """What ties several processes together (service.realtime.scaleout, on Redis)."""

    async def start(self, rt: Realtime) -> None:
        """Start the shared state's background work; called once, before serving."""
        ...

    async def stop(self) -> None:
        """Stop it and release this process's share of the state; called at shutdown."""
        ...

    async def publish(self, op: dict[str, Any]) -> None:
        """Send a control operation to the other processes (they `apply_control` it)."""
        ...

    def counters(self) -> dict[str, int]:
        """Counts worth watching (e.g. broadcasts that could not be published)."""
        ...


class Realtime:
    """Owns the AsyncServer, the generated emitter and router, presence and typing state.

    On one process everything is in memory. With a `backplane` (several processes), emits
    fan out through the `client_manager`, presence, typing and rate limits live in the
    shared stores, and what concerns sockets of other processes (revocation, logout)
    travels as control operations that every process applies to its own sockets.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret: str,
        presence: Presence | None = None,
        message_rate: SlidingWindowCounter | None = None,
        client_manager: socketio.AsyncManager | None = None,
        typing_store: TypingStore | None = None,
        login_throttle: LoginThrottle | None = None,
        backplane: Backplane | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.secret = secret
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=client_manager or DirectFanoutManager(),
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
        self.typing = TypingTracker(
            settings.typing_timeout_seconds, self.announce_typing, typing_store
        )
        self.message_rate: SlidingWindowCounter = message_rate or InMemorySlidingWindow(
            limit=settings.message_rate_limit,
            window_seconds=settings.message_rate_window_seconds,
        )
        self.login_throttle = login_throttle or LoginThrottle.from_settings(settings)
        self.backplane = backplane
        self._sids_by_session: dict[str, set[str]] = {}
        self._sids_by_user: dict[int, set[str]] = {}
        self.handlers = ZizanyHandlers(self)
        self.dispatcher = bind(self.sio, self.handlers, self.emitter)

    def asgi(self, other_app: Callable[..., Any]) -> RealtimeASGI:
        """One ASGI app: Socket.IO under /socket.io, everything else to `other_app`.

        `other_app`'s lifespan runs as before; the real-time side starts after its startup
        and stops before its shutdown (the database is still there for the goodbyes).
        """
        inner = socketio.ASGIApp(self.sio, other_asgi_app=other_app, socketio_path="socket.io")
        return RealtimeASGI(self, inner, other_app)

    async def start(self) -> None:
        """Start the client manager (the pub/sub listener) and the backplane, before serving."""
        if not self.sio.manager_initialized:
            self.sio.manager_initialized = True
            self.sio.manager.initialize()
        if self.backplane is not None:
            await self.backplane.start(self)

    async def stop(self) -> None:
        """Stop the backplane (this process's leases go, its users' presence follows)."""
        if self.backplane is not None:
            await self.backplane.stop()

    def counters(self) -> dict[str, int]:
        """Counts for health and metrics: rejected emits, unpublished broadcasts, ..."""
        counts = {f"emit_rejected:{key}": value for key, value in self.emitter.rejected.items()}
        if self.backplane is not None:
            counts.update(self.backplane.counters())
        return counts

    # ---- socket life cycle ---------------------------------------------------------------

    async def socket_connected(self, sid: SocketId, principal: Principal) -> None:
        """Index the socket; a user's first socket brings them online in their servers."""
        self._sids_by_session.setdefault(principal.session_id, set()).add(sid)
        self._sids_by_user.setdefault(principal.user_id, set()).add(sid)
        if await self.presence.connect(principal.user_id, sid):
            await self._announce_presence_of(principal.user_id)

    async def socket_disconnected(self, sid: SocketId, principal: Principal) -> None:
        """End the socket's typing; a user's last socket takes them offline."""
        _discard(self._sids_by_session, principal.session_id, sid)
        _discard(self._sids_by_user, principal.user_id, sid)
        try:
            for change in await self.typing.drop_socket(sid):
                await self.announce_typing(change)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Presence must still follow; a shared typing entry expires by itself.
            log.exception("ending the typing of socket %s failed", sid)
        if await self.presence.disconnect(principal.user_id, sid):
            await self._announce_presence_of(principal.user_id)

    async def _announce_presence_of(self, user_id: int) -> None:
        await self.announce_presence_of([user_id])

    async def announce_presence_of(self, user_ids: Iterable[int]) -> None:
        """`presence:update` to every server room of these users (each room once)."""
        server_ids: set[int] = set()
        async with self.sessionmaker() as session:
            for user_id in set(user_ids):
                server_ids.update(
                    await memberships.list_server_ids_of_user(session=session, user_id=user_id)
                )
        for server_id in sorted(server_ids):
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
        for change in await self.typing.drop_socket(sid, channel_id):
            await self.announce_typing(change)

    # ---- messages ------------------------------------------------------------------------

    async def check_message_rate(self, user_id: int) -> None:
        """Raise RateLimited when the user sent too many messages in the window."""
        wait = await self.message_rate.acquire(f"messages:{user_id}")
        if wait is not None:
            raise RateLimited(wait, f"too many messages, retry in {wait:.1f} s")

    async def store_message(
        self, *, user_id: int, username: str, channel_id: int, content: str
    ) -> Message:
        """Check access and store a message (trimmed); the stored message's wire form.

        The wire form is built from the inserted row and the author's name: reading the
        message back cost a second query and transaction (bench: 0.57x CPU per message).
        """
        async with self.sessionmaker() as session:
            access = await channels.get_channel_access(
                session=session, channel_id=channel_id, user_id=user_id
            )
            if access is None:
                raise ChannelNotFound(channel_id)
            if access.role is None:
                raise Forbidden(f"not a member of the server of channel {channel_id!r}")
            row = await messages.create_message(
                session=session, channel_id=channel_id, user_id=user_id, content=trim(content)
            )
            await session.commit()
        return message_out(messages.AuthoredMessage(message=row, username=username))

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
            channel_ids = sorted(
                c.id for c in await channels.list_channels(session=session, server_id=server_id)
            )
        await self._revoke_locally(server_id, user_id, channel_ids)
        # The user's sockets on other processes: each process takes its own out of the rooms.
        await self._control(
            {
                "op": "member_left",
                "server_id": server_id,
                "user_id": user_id,
                "channel_ids": channel_ids,
            }
        )
        await self.announce_presence(server_id)

    async def _revoke_locally(self, server_id: int, user_id: int, channel_ids: list[int]) -> None:
        """Take this process's sockets of the user out of the server's and channels' rooms."""
        wanted = set(channel_ids)
        left: list[tuple[str, int]] = []
        for sid in list(self._sids_by_user.get(user_id, ())):
            await self.sio.leave_room(sid, server_room(server_id))
            for room in list(self.sio.rooms(sid)):
                channel_id = parse_channel_room(room)
                if channel_id is not None and channel_id in wanted:
                    await self.sio.leave_room(sid, room)
                    left.append((sid, channel_id))
        # Only once every socket of the user is out: their "stopped typing" reaches the
        # room, and none of their own other tabs any more.
        for sid, channel_id in left:
            for change in await self.typing.drop_socket(sid, channel_id):
                await self.announce_typing(change)

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
        await self.sio.close_room(server_room(server_id))  # in every process (client manager)
        for channel_id in channel_ids:
            await self.typing.drop_channel(channel_id)
            await self.sio.close_room(channel_room(channel_id))
        await self._control({"op": "channels_gone", "channel_ids": list(channel_ids)})

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
        await self.typing.drop_channel(channel_id)
        await self.sio.close_room(channel_room(channel_id))  # in every process (client manager)
        await self._control({"op": "channels_gone", "channel_ids": [channel_id]})

    async def session_ended(self, session_id: str) -> None:
        """Disconnect every socket authenticated with that session (logout)."""
        await self._end_session_locally(session_id)
        await self._control({"op": "session_ended", "session_id": session_id})

    async def _end_session_locally(self, session_id: str) -> None:
        for sid in list(self._sids_by_session.get(session_id, ())):
            await self.sio.disconnect(sid)

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Which of these users have at least one connected socket."""
        return await self.presence.online(user_ids)

    # ---- control operations between processes ----------------------------------------------

    async def _control(self, op: dict[str, Any]) -> None:
        """Tell the other processes (if any) to apply `op` to their sockets."""
        if self.backplane is not None:
            await self.backplane.publish(op)

    async def apply_control(self, op: Mapping[str, Any]) -> None:
        """Apply another process's control operation to this process's sockets."""
        kind = op.get("op")
        if kind == "member_left":
            channel_ids = [int(c) for c in op["channel_ids"]]
            await self._revoke_locally(int(op["server_id"]), int(op["user_id"]), channel_ids)
        elif kind == "session_ended":
            await self._end_session_locally(str(op["session_id"]))
        elif kind == "channels_gone":
            for channel_id in op["channel_ids"]:
                await self.typing.drop_channel(int(channel_id), shared=False)
        else:
            log.warning("unknown control operation %r ignored", kind)


class RealtimeASGI:
    """The Socket.IO ASGI app, with the real-time side started and stopped by the lifespan."""

    def __init__(
        self, rt: Realtime, inner: Callable[..., Any], other_app: Callable[..., Any]
    ) -> None:
        self.rt = rt
        self.inner = inner
        self.other_app = other_app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Socket.IO and `other_app` as before; the lifespan also starts/stops `rt`."""
        if scope["type"] != "lifespan":
            await self.inner(scope, receive, send)
            return

        async def lifespan_send(message: Mapping[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    await self.rt.start()
                except Exception as exc:
                    log.exception("the real-time side did not start")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
            await send(message)

        async def lifespan_receive() -> Any:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                try:
                    await self.rt.stop()
                except Exception:
                    log.exception("the real-time side did not stop cleanly")
            return message

        await self.other_app(scope, lifespan_receive, lifespan_send)


def _discard(index: dict[Any, set[str]], key: Any, sid: str) -> None:
    sids = index.get(key)
    if sids is not None:
        sids.discard(sid)
        if not sids:
            del index[key]


def create_realtime(
    *, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], secret: str
) -> Realtime:
    """The real-time side: in-process by default, shared through Redis when it is configured."""
    if settings.redis_url is not None:
        from service.realtime.scaleout import create_scaled_realtime

        return create_scaled_realtime(settings=settings, sessionmaker=sessionmaker, secret=secret)
    return Realtime(settings=settings, sessionmaker=sessionmaker, secret=secret)
