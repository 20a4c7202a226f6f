"""The text channels of a server: list, create, rename, delete; who may use one."""

from __future__ import annotations

from service.chat.access import MODERATORS, channel_for, server_for
from service.chat.parts import Operations
from service.db import channels as channels_db
from service.db.channels import ChannelAccess
from service.db.engine import reading
from service.db.tables import ChannelRow
from service.wire import channel_out


class Channels(Operations):
    """The channel operations."""

    async def listed(self, *, user_id: int, server_id: int) -> list[ChannelRow]:
        """The server's channels, ordered by id (members only)."""
        async with self.parts.sessionmaker() as session:
            await server_for(session=session, server_id=server_id, user_id=user_id)
            return await channels_db.list_channels(session=session, server_id=server_id)

    async def require_member(self, *, user_id: int, channel_id: int) -> ChannelAccess:
        """A channel the caller may use (`get_channel`, `channel:join`): missing, then forbidden."""
        async with reading(self.parts.sessionmaker) as session:
            return await channel_for(session=session, channel_id=channel_id, user_id=user_id)

    async def create(self, *, user_id: int, server_id: int, name: str) -> ChannelRow:
        """A channel with a name unique in the server (owner or admin); `channel:created`."""
        async with self.parts.sessionmaker() as session:
            await server_for(
                session=session, server_id=server_id, user_id=user_id, roles=MODERATORS
            )
            row = await channels_db.create_channel(session=session, server_id=server_id, name=name)
            await session.commit()
        await self.parts.notifier.channel_created(channel_out(row))
        return row

    async def rename(self, *, user_id: int, channel_id: int, name: str) -> ChannelRow:
        """Rename a channel (owner or admin); the current name is a no-op that emits nothing."""
        async with self.parts.sessionmaker() as session:
            access = await channel_for(
                session=session, channel_id=channel_id, user_id=user_id, roles=MODERATORS
            )
            unchanged = access.channel.name == name
            row = await channels_db.rename_channel(
                session=session, channel_id=channel_id, name=name
            )
            await session.commit()
        if not unchanged:
            await self.parts.notifier.channel_updated(channel_out(row))
        return row

    async def delete(self, *, user_id: int, channel_id: int) -> None:
        """Delete a channel and its messages (owner or admin); its sockets leave its room."""
        async with self.parts.sessionmaker() as session:
            access = await channel_for(
                session=session, channel_id=channel_id, user_id=user_id, roles=MODERATORS
            )
            await channels_db.delete_channel(session=session, channel_id=channel_id)
            await session.commit()
        await self.parts.notifier.channel_deleted(channel_id=channel_id, server_id=access.server.id)
