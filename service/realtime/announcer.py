"""Presence and typing: who is online in a server, who types in a channel, told to the rooms.

Also what a socket's arrival and departure change (the first socket brings a user online,
the last takes them offline) and taking sockets out of rooms where access ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contract_runtime.emitter import SocketId
from generated.realtime.models import PresenceUpdate, TypingUpdate
from generated.realtime.rooms import channel_room, parse_channel_room, server_room
from service.auth.logins import Principal
from service.db import memberships
from service.db.engine import reading
from service.realtime.hub import Hub
from service.realtime.presence import Presence
from service.realtime.presence_coalescer import PresenceCoalescer
from service.realtime.sockets import SocketIndex
from service.realtime.typing_state import Change, TypingStore, TypingTracker

log = logging.getLogger("zizany.realtime")


class Announcer:
    """`presence:update` and `typing:update`, and the socket life cycle that causes them."""

    def __init__(
        self,
        *,
        hub: Hub,
        index: SocketIndex,
        sessionmaker: async_sessionmaker[AsyncSession],
        presence: Presence,
        typing_timeout: float,
        typing_store: TypingStore | None = None,
        presence_interval: float = 0.0,
    ) -> None:
        self.hub = hub
        self.index = index
        self.sessionmaker = sessionmaker
        self.presence = presence
        self.typing = TypingTracker(typing_timeout, self.announce_typing, typing_store)
        # Connects and disconnects: at most one presence:update per server per interval.
        self.coalescer = PresenceCoalescer(self.announce_presence, presence_interval)

    # ---- socket life cycle ---------------------------------------------------------------

    async def socket_connected(self, sid: SocketId, principal: Principal) -> None:
        """Index the socket; a user's first socket brings them online in their servers."""
        self.index.add(sid, user_id=principal.user_id, login_id=principal.login_id)
        if await self.presence.connect(principal.user_id, sid):
            await self.announce_presence_of([principal.user_id])

    async def socket_disconnected(self, sid: SocketId, principal: Principal) -> None:
        """End the socket's typing; a user's last socket takes them offline."""
        self.index.remove(sid, user_id=principal.user_id, login_id=principal.login_id)
        try:
            for change in await self.typing.drop_socket(sid):
                await self.announce_typing(change)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Presence must still follow; a shared typing entry expires by itself.
            log.exception("ending the typing of socket %s failed", sid)
        if await self.presence.disconnect(principal.user_id, sid):
            await self.announce_presence_of([principal.user_id])

    # ---- presence --------------------------------------------------------------------------

    async def announce_presence_of(self, user_ids: Iterable[int]) -> None:
        """`presence:update` to every server room of these users (each room once), at most
        once per interval per room (service.realtime.presence_coalescer)."""
        # One query for the members of all their servers, one presence lookup for all
        # of those members: a connect costs two round trips, not two per server.
        users = set(user_ids)
        if not users:
            return
        async with reading(self.sessionmaker) as session:
            members = await memberships.member_user_ids_of_servers_of(
                session=session, user_ids=users
            )
        online = await self.presence.online({uid for ids in members.values() for uid in ids})
        for server_id, member_ids in sorted(members.items()):
            if self.coalescer.claim(server_id):
                await self._emit_presence(server_id, [uid for uid in member_ids if uid in online])

    async def announce_presence(self, server_id: int) -> None:
        """`presence:update` to the server room: its members with a connected socket."""
        async with reading(self.sessionmaker) as session:
            member_ids = await memberships.list_member_user_ids(
                session=session, server_id=server_id
            )
        online = await self.presence.online(member_ids)
        await self._emit_presence(server_id, [uid for uid in member_ids if uid in online])

    async def _emit_presence(self, server_id: int, online_user_ids: list[int]) -> None:
        """The `presence:update` itself (`online_user_ids` ascending)."""
        await self.hub.emitter.presence_update(
            server_room(server_id),
            PresenceUpdate(serverId=server_id, onlineUserIds=online_user_ids),
        )

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Which of these users have at least one connected socket."""
        return await self.presence.online(user_ids)

    # ---- typing ----------------------------------------------------------------------------

    async def announce_typing(self, change: Change) -> None:
        """`typing:update` to the channel room, the socket that caused it excluded."""
        payload = TypingUpdate(
            channelId=change.channel_id,
            userId=change.user_id,
            username=change.username,
            isTyping=change.is_typing,
        )
        await self.hub.emitter.typing_update(
            channel_room(change.channel_id), payload, skip_sid=SocketId(change.sid)
        )

    async def typing_started(self, sid: SocketId, principal: Principal, channel_id: int) -> None:
        """The socket types in the channel; announced on a change of the user's state."""
        change = await self.typing.start(channel_id, principal.user_id, principal.username, sid)
        if change is not None:
            await self.announce_typing(change)

    async def typing_stopped(self, sid: SocketId, principal: Principal, channel_id: int) -> None:
        """The socket stopped typing in the channel; announced on a change of state."""
        change = await self.typing.stop(channel_id, principal.user_id, sid)
        if change is not None:
            await self.announce_typing(change)

    # ---- rooms -----------------------------------------------------------------------------

    async def leave_channel_room(self, sid: str, channel_id: int) -> None:
        """Take a socket out of a channel room, ending its typing there."""
        await self.hub.sio.leave_room(sid, channel_room(channel_id))
        for change in await self.typing.drop_socket(sid, channel_id):
            await self.announce_typing(change)

    async def revoke_locally(self, server_id: int, user_id: int, channel_ids: list[int]) -> None:
        """Take this process's sockets of the user out of the server's and channels' rooms."""
        sio = self.hub.sio
        wanted = set(channel_ids)
        left: list[tuple[str, int]] = []
        for sid in self.index.of_user(user_id):
            await sio.leave_room(sid, server_room(server_id))
            for room in list(sio.rooms(sid)):
                channel_id = parse_channel_room(room)
                if channel_id is not None and channel_id in wanted:
                    await sio.leave_room(sid, room)
                    left.append((sid, channel_id))
        # Only once every socket of the user is out: their "stopped typing" reaches the
        # room, and none of their own other tabs any more.
        for sid, channel_id in left:
            for change in await self.typing.drop_socket(sid, channel_id):
                await self.announce_typing(change)
