"""Invite codes: creating one (owner or admin) and joining a server with one."""

from __future__ import annotations

from datetime import timedelta

from service.chat.access import MODERATORS, server_for, visible_server
from service.chat.parts import Operations
from service.db import invites as invites_db
from service.db.servers import ServerView
from service.db.tables import InviteRow


class Invites(Operations):
    """The invite operations."""

    async def create(
        self,
        *,
        user_id: int,
        server_id: int,
        expires_in_seconds: int | None = None,
        max_uses: int | None = None,
    ) -> InviteRow:
        """A new unguessable invite code of the server."""
        async with self.parts.sessionmaker() as session:
            await server_for(
                session=session, server_id=server_id, user_id=user_id, roles=MODERATORS
            )
            invite = await invites_db.create_invite(
                session=session,
                server_id=server_id,
                created_by=user_id,
                expires_in=(
                    timedelta(seconds=expires_in_seconds)
                    if expires_in_seconds is not None
                    else None
                ),
                max_uses=max_uses,
            )
            await session.commit()
        return invite

    async def accept(self, *, user_id: int, username: str, code: str) -> ServerView:
        """Join the invite's server; concurrent accepts never exceed `max_uses`."""
        async with self.parts.sessionmaker() as session:
            membership = await invites_db.accept_invite(session=session, code=code, user_id=user_id)
            view = await visible_server(
                session=session, server_id=membership.server_id, user_id=user_id
            )
            await session.commit()
        await self.parts.notifier.member_joined(
            server_id=membership.server_id, user_id=user_id, username=username
        )
        return view
