"""Members of a server: listing them, changing a role, removing one (kick)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.chat.access import MODERATORS, OWNER, server_for
from service.chat.parts import Operations
from service.db import memberships as memberships_db
from service.db.memberships import Member
from service.db.tables import Role
from service.errors import Forbidden, UserNotFound
from service.wire import server_info_out


class Members(Operations):
    """The member operations."""

    async def listed(self, *, user_id: int, server_id: int) -> list[Member]:
        """Every member in the order they joined (members only)."""
        async with self.parts.sessionmaker() as session:
            await server_for(session=session, server_id=server_id, user_id=user_id)
            return await memberships_db.list_members(session=session, server_id=server_id)

    async def change_role(
        self, *, user_id: int, server_id: int, member_id: int, role: Role
    ) -> Member:
        """Change a member's role (owner only); `owner` hands the server over.

        Announces `server:member_updated` (on a transfer also the former owner's, and
        `server:updated`); the current role is a no-op that announces nothing.
        """
        async with self.parts.sessionmaker() as session:
            view = await server_for(
                session=session, server_id=server_id, user_id=user_id, roles=OWNER
            )
            if member_id == user_id:
                raise Forbidden(
                    f"the owner cannot change its own role in server {server_id!r}; "
                    "make another member the owner instead"
                )
            target = await _member(session=session, server_id=server_id, user_id=member_id)
            if target.role == role:
                return target
            await memberships_db.set_role(
                session=session, server_id=server_id, user_id=member_id, role=role
            )
            await session.commit()
        notifier = self.parts.notifier
        await notifier.member_updated(server_id=server_id, user_id=member_id, role=target.role)
        if target.role == "owner":
            await notifier.member_updated(server_id=server_id, user_id=user_id, role="admin")
            # The transfer changed the server row loaded for the access check (owner_id).
            await notifier.server_updated(server_info_out(view.server))
        return target

    async def kick(self, *, user_id: int, server_id: int, member_id: int) -> None:
        """Remove a member: the owner anyone but itself, an admin plain members."""
        async with self.parts.sessionmaker() as session:
            view = await server_for(
                session=session, server_id=server_id, user_id=user_id, roles=MODERATORS
            )
            target = await _member(session=session, server_id=server_id, user_id=member_id)
            if member_id == user_id:
                raise Forbidden(
                    f"you cannot remove yourself from server {server_id!r}; leave it instead"
                )
            if view.role == "admin" and target.role != "member":
                raise Forbidden(
                    f"an admin cannot remove the {target.role} {member_id!r} "
                    f"from server {server_id!r}"
                )
            await memberships_db.remove_member(
                session=session, server_id=server_id, user_id=member_id
            )
            await session.commit()
        await self.parts.notifier.member_left(
            server_id=server_id, user_id=member_id, username=target.user.username
        )


async def _member(*, session: AsyncSession, server_id: int, user_id: int) -> Member:
    """A member of the server, else E_USER_NOT_FOUND."""
    member = await memberships_db.get_member(session=session, server_id=server_id, user_id=user_id)
    if member is None:
        raise UserNotFound(user_id, f"user {user_id!r} is not a member of server {server_id!r}")
    return member
