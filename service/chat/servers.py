"""Servers: create, change, delete; becoming and ending a member (join, leave)."""

from __future__ import annotations

from dataclasses import replace

from service.chat.access import OWNER, member_role, server_for, visible_server
from service.chat.parts import Operations
from service.chat.text import trimmed
from service.db import memberships as memberships_db
from service.db import servers as servers_db
from service.db.engine import reading
from service.db.servers import ServerChanges, ServerFields, ServerView
from service.db.tables import Role
from service.errors import InviteExpired, InviteNotFound, InviteRequired, OwnerCannotLeave
from service.wire import server_info_out


class Servers(Operations):
    """The server operations."""

    async def view(self, *, user_id: int, server_id: int) -> ServerView:
        """One server as the caller sees it: for its members, and for everyone when public."""
        async with self.parts.sessionmaker() as session:
            return await visible_server(session=session, server_id=server_id, user_id=user_id)

    async def visible(self, *, user_id: int) -> list[ServerView]:
        """Public servers and the caller's servers, ordered by id."""
        async with self.parts.sessionmaker() as session:
            return await servers_db.list_visible_servers(session=session, user_id=user_id)

    async def require_member(self, *, user_id: int, server_id: int) -> Role:
        """The caller's role (`server:join`): E_FORBIDDEN for a non-member or a missing server."""
        async with reading(self.parts.sessionmaker) as session:
            return await member_role(session=session, server_id=server_id, user_id=user_id)

    async def create(self, *, user_id: int, fields: ServerFields) -> ServerView:
        """A server owned by the caller, with a `general` channel."""
        fields = replace(fields, name=trimmed(fields.name, "name"))
        async with self.parts.sessionmaker() as session:
            row = await servers_db.create_server(session=session, owner_id=user_id, fields=fields)
            await session.commit()
        return ServerView(server=row, role="owner", member_count=1)

    async def update(self, *, user_id: int, server_id: int, changes: ServerChanges) -> ServerView:
        """Change a server's name, visibility or images (owner only); `server:updated`."""
        if isinstance(changes.name, str):
            changes = replace(changes, name=trimmed(changes.name, "name"))
        async with self.parts.sessionmaker() as session:
            view = await server_for(
                session=session, server_id=server_id, user_id=user_id, roles=OWNER
            )
            row = await servers_db.update_server(
                session=session, server_id=server_id, changes=changes
            )
            await session.commit()
        await self.parts.notifier.server_updated(server_info_out(row))
        return ServerView(server=row, role=view.role, member_count=view.member_count)

    async def delete(self, *, user_id: int, server_id: int) -> None:
        """Delete a server with everything in it (owner only); its sockets leave its rooms."""
        async with self.parts.sessionmaker() as session:
            await server_for(session=session, server_id=server_id, user_id=user_id, roles=OWNER)
            channel_ids = await servers_db.delete_server(session=session, server_id=server_id)
            await session.commit()
        await self.parts.notifier.server_deleted(server_id=server_id, channel_ids=channel_ids)

    async def join(
        self, *, user_id: int, username: str, server_id: int, code: str | None = None
    ) -> ServerView:
        """Join a public server, or a private one with a live invite code of it."""
        async with self.parts.sessionmaker() as session:
            try:
                await servers_db.join_server(
                    session=session, server_id=server_id, user_id=user_id, code=code
                )
            except (InviteNotFound, InviteExpired) as exc:
                # join_server does not say why a code was refused; accept_invite does.
                raise InviteRequired(
                    server_id, f"server {server_id!r} is private; a live invite code is required"
                ) from exc
            view = await visible_server(session=session, server_id=server_id, user_id=user_id)
            await session.commit()
        await self.parts.notifier.member_joined(
            server_id=server_id, user_id=user_id, username=username
        )
        return view

    async def leave(self, *, user_id: int, username: str, server_id: int) -> None:
        """Stop being a member (not the owner); the leaver's sockets leave the server's rooms."""
        async with self.parts.sessionmaker() as session:
            view = await server_for(session=session, server_id=server_id, user_id=user_id)
            if view.role == "owner":
                raise OwnerCannotLeave(
                    server_id, f"the owner of server {server_id!r} cannot leave it"
                )
            await memberships_db.remove_member(
                session=session, server_id=server_id, user_id=user_id
            )
            await session.commit()
        await self.parts.notifier.member_left(
            server_id=server_id, user_id=user_id, username=username
        )
