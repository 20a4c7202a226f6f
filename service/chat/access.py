"""Who may see and do what: the contract's visibility and permission rules, once.

The rule for both transports (spec/openapi.yaml "Visibility and permissions",
spec/asyncapi.yaml's `info.description`): what the caller may not see answers as missing;
once the caller can see it, a missing membership or role answers `E_FORBIDDEN`.

- A private server, or anything in it, is visible to its members only: to anyone else it
  is missing (`E_SERVER_NOT_FOUND`, `E_CHANNEL_NOT_FOUND`, `E_MESSAGE_NOT_FOUND`), so ids
  cannot be probed. A public server is visible to every signed-in user, its channels and
  messages are for members only (`E_FORBIDDEN`).
- `server:join` has one refusal code in the contract, `E_FORBIDDEN`: it answers it for a
  missing server, a private one and a public one alike (no probing either).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from service.db import memberships, messages
from service.db.channels import ChannelAccess, get_channel_access
from service.db.engine import Reader
from service.db.messages import AuthoredMessage
from service.db.servers import ServerView, get_visible_server
from service.db.tables import Role
from service.errors import ChannelNotFound, Forbidden, MessageNotFound, ServerNotFound

MODERATORS: tuple[Role, ...] = ("owner", "admin")
OWNER: tuple[Role, ...] = ("owner",)


async def visible_server(*, session: AsyncSession, server_id: int, user_id: int) -> ServerView:
    """The server as the user sees it; missing when it is, or is private and not theirs."""
    view = await get_visible_server(session=session, server_id=server_id, user_id=user_id)
    if view is None:
        raise ServerNotFound(server_id)
    return view


def require_role(view: ServerView, roles: Collection[Role] | None = None) -> Role:
    """The caller's role; E_FORBIDDEN unless a member (with one of `roles`, when given)."""
    return _role_in(view.server.id, view.role, roles)


def _role_in(server_id: int, role: Role | None, roles: Collection[Role] | None) -> Role:
    if role is None:
        raise Forbidden(f"you are not a member of server {server_id!r}")
    if roles is not None and role not in roles:
        raise Forbidden(f"your role {role!r} in server {server_id!r} does not allow this")
    return role


async def server_for(
    *,
    session: AsyncSession,
    server_id: int,
    user_id: int,
    roles: Collection[Role] | None = None,
) -> ServerView:
    """A server the caller is a member of (with one of `roles`): missing, then forbidden."""
    view = await visible_server(session=session, server_id=server_id, user_id=user_id)
    require_role(view, roles)
    return view


async def member_role(*, session: Reader, server_id: int, user_id: int) -> Role:
    """The caller's role in a server; E_FORBIDDEN for a non-member and a missing server alike."""
    role = await memberships.get_role(session=session, server_id=server_id, user_id=user_id)
    return _role_in(server_id, role, None)


async def channel_for(
    *,
    session: Reader,
    channel_id: int,
    user_id: int,
    roles: Collection[Role] | None = None,
) -> ChannelAccess:
    """A channel of a server the caller is a member of (with one of `roles`).

    Missing (`E_CHANNEL_NOT_FOUND`) when it does not exist or its server is private and
    not the caller's; `E_FORBIDDEN` in a public server the caller is not a member of.
    """
    access = await get_channel_access(session=session, channel_id=channel_id, user_id=user_id)
    if access is None or (access.role is None and not access.server.is_public):
        raise ChannelNotFound(channel_id)
    _role_in(access.server.id, access.role, roles)
    return access


async def message_for(
    *, session: AsyncSession, message_id: int, user_id: int, channel_id: int | None = None
) -> tuple[AuthoredMessage, ChannelAccess]:
    """A message in a channel the caller may use, and that access.

    With `channel_id` (REST names the channel in the path) the channel is checked first
    and the message must be in it. Without (a socket names only the message) a message the
    caller may not see is missing (`E_MESSAGE_NOT_FOUND`), as its channel would be.
    """
    if channel_id is not None:
        access = await channel_for(session=session, channel_id=channel_id, user_id=user_id)
        item = await messages.get_authored_message(session=session, message_id=message_id)
        if item is None or item.message.channel_id != channel_id:
            raise MessageNotFound(
                message_id, f"no message {message_id!r} in channel {channel_id!r}"
            )
        return item, access
    item = await messages.get_authored_message(session=session, message_id=message_id)
    if item is None:
        raise MessageNotFound(message_id)
    try:
        access = await channel_for(
            session=session, channel_id=item.message.channel_id, user_id=user_id
        )
    except ChannelNotFound:
        raise MessageNotFound(message_id) from None
    return item, access
