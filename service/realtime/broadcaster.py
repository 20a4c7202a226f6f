"""The notifier of the real-time side: each domain change as the contract's events.

Sends through the hub's typed emitter; where access ended, takes sockets out of rooms at
once, on this process and (as control operations over the backplane) on the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from generated.realtime.models import (
    Channel,
    ChannelDeleted,
    Message,
    MessageDeleted,
    ServerDeleted,
    ServerInfo,
    ServerMemberJoined,
    ServerMemberLeft,
    ServerMemberUpdated,
)
from generated.realtime.rooms import channel_room, server_room
from service.chat.notifier import Notifier
from service.db import channels
from service.realtime.announcer import Announcer
from service.realtime.backplane import Backplane
from service.realtime.resync import DEFAULT_SPREAD_SECONDS, Resync

log = logging.getLogger("zizany.realtime")


class Broadcaster(Notifier):
    """`Notifier` for a process that serves sockets."""

    def __init__(
        self,
        announcer: Announcer,
        *,
        backplane: Backplane | None = None,
        resync_spread: float = DEFAULT_SPREAD_SECONDS,
    ) -> None:
        """Sends through the announcer's hub, to the sockets of its index."""
        self.announcer = announcer
        self.hub = announcer.hub
        self.emitter = announcer.hub.emitter
        self.index = announcer.index
        self.sessionmaker = announcer.sessionmaker
        self.backplane = backplane
        self.resyncs = Resync(self.hub.sio, self.index, spread=resync_spread)

    async def message_created(self, message: Message) -> None:
        """`message:new` to the message's channel room."""
        await self.emitter.message_new(channel_room(message.channel_id), message)

    async def message_updated(self, message: Message) -> None:
        """`message:updated` to the message's channel room."""
        await self.emitter.message_updated(channel_room(message.channel_id), message)

    async def message_deleted(self, *, message_id: int, channel_id: int) -> None:
        """`message:deleted` to the channel room."""
        payload = MessageDeleted(messageId=message_id, channelId=channel_id)
        await self.emitter.message_deleted(channel_room(channel_id), payload)

    async def member_joined(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_joined` and `presence:update` to the server room."""
        payload = ServerMemberJoined(serverId=server_id, userId=user_id, username=username)
        await self.emitter.server_member_joined(server_room(server_id), payload)
        await self.announcer.announce_presence(server_id)

    async def member_left(self, *, server_id: int, user_id: int, username: str) -> None:
        """`server:member_left`; the user's sockets leave the server's rooms at once; presence."""
        payload = ServerMemberLeft(serverId=server_id, userId=user_id, username=username)
        await self.emitter.server_member_left(server_room(server_id), payload)
        async with self.sessionmaker() as session:
            channel_ids = sorted(
                c.id for c in await channels.list_channels(session=session, server_id=server_id)
            )
        await self.announcer.revoke_locally(server_id, user_id, channel_ids)
        # The user's sockets on other processes: each process takes its own out of the rooms.
        await self._control(
            {
                "op": "member_left",
                "server_id": server_id,
                "user_id": user_id,
                "channel_ids": channel_ids,
            }
        )
        await self.announcer.announce_presence(server_id)

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
        await self.hub.sio.close_room(server_room(server_id))  # in every process (client manager)
        await self._channels_gone(channel_ids)

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
        await self._channels_gone([channel_id])

    async def _channels_gone(self, channel_ids: list[int]) -> None:
        """Every socket leaves these channels' rooms (`close_room` reaches every process); their
        typing is forgotten here and in the shared store, then (a control operation) elsewhere."""
        for channel_id in channel_ids:
            await self.announcer.typing.drop_channel(channel_id)
            await self.hub.sio.close_room(channel_room(channel_id))
        await self._control({"op": "channels_gone", "channel_ids": list(channel_ids)})

    async def login_ended(self, login_id: str) -> None:
        """Disconnect every socket authenticated with that login session (logout)."""
        await self._end_login_locally(login_id)
        await self._control({"op": "login_ended", "login_id": login_id})

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        """Which of these users have at least one connected socket."""
        return await self.announcer.online_user_ids(user_ids)

    async def _end_login_locally(self, login_id: str) -> None:
        for sid in self.index.of_login(login_id):
            await self.hub.sio.disconnect(sid)

    # ---- control operations between processes ----------------------------------------------

    async def _control(self, op: dict[str, Any]) -> None:
        """Tell the other processes (if any) to apply `op` to their sockets."""
        if self.backplane is not None:
            await self.backplane.publish(op)

    def resync(self, before: float, why: str) -> None:
        """Drop the connections made before `before` (service.realtime.resync)."""
        self.resyncs.request(before, why)

    async def apply_control(self, op: Mapping[str, Any]) -> None:
        """Apply another process's control operation to this process's sockets."""
        kind = op.get("op")
        if kind == "member_left":
            channel_ids = [int(c) for c in op["channel_ids"]]
            await self.announcer.revoke_locally(
                int(op["server_id"]), int(op["user_id"]), channel_ids
            )
        elif kind == "login_ended":
            await self._end_login_locally(str(op["login_id"]))
        elif kind == "channels_gone":
            for channel_id in op["channel_ids"]:
                await self.announcer.typing.drop_channel(int(channel_id), shared=False)
        else:
            log.warning("unknown control operation %r ignored", kind)
