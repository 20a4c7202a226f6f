"""Who may see and do what: the contract's visibility and permission rules, in one place.

A private server, or anything in it, that the caller may not see is reported missing
(404); once the caller can see it, a missing membership or role is 403.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from service.db.channels import ChannelAccess, get_channel_access
from service.db.servers import ServerView, get_visible_server
from service.db.tables import Role
from service.errors import ChannelNotFound, Forbidden, ServerNotFound

MODERATORS: tuple[Role, ...] = ("owner", "admin")
OWNER: tuple[Role, ...] = ("owner",)


async def visible_server(*, session: AsyncSession, server_id: int, user_id: int) -> ServerView:
    """The server as the user sees it; 404 when missing or private and not theirs."""
    view = await get_visible_server(session=session, server_id=server_id, user_id=user_id)
    if view is None:
        raise ServerNotFound(server_id)
    return view


def require_role(view: ServerView, roles: Collection[Role] | None = None) -> Role:
    """The caller's role; 403 unless a member (with one of `roles`, when given)."""
    server_id = view.server.id
    if view.role is None:
        raise Forbidden(f"you are not a member of server {server_id!r}")
    if roles is not None and view.role not in roles:
        raise Forbidden(f"your role {view.role!r} in server {server_id!r} does not allow this")
    return view.role


async def server_for(
    *,
    session: AsyncSession,
    server_id: int,
    user_id: int,
    roles: Collection[Role] | None = None,
) -> ServerView:
    """A server the caller is a member of (with one of `roles`, when given): 404, then 403."""
    view = await visible_server(session=session, server_id=server_id, user_id=user_id)
    require_role(view, roles)
    return view


async def channel_for(
    *,
    session: AsyncSession,
    channel_id: int,
    user_id: int,
    roles: Collection[Role] | None = None,
) -> ChannelAccess:
    """A channel of a server the caller is a member of (with one of `roles`): 404, then 403."""
    access = await get_channel_access(session=session, channel_id=channel_id, user_id=user_id)
    if access is None or (access.role is None and not access.server.is_public):
        raise ChannelNotFound(channel_id)
    if access.role is None:
        raise Forbidden(f"you are not a member of server {access.server.id!r}")
    if roles is not None and access.role not in roles:
        raise Forbidden(
            f"your role {access.role!r} in server {access.server.id!r} does not allow this"
        )
    return access
