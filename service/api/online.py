"""Caller-facing objects that need presence: servers with `online_count`, members with `online`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from generated.rest import models as rest
from service.api.views import member_out, server_out
from service.chat.notifier import Notifier
from service.db.memberships import Member, member_user_ids_by_server
from service.db.servers import ServerView


async def servers_out(
    *, session: AsyncSession, notifier: Notifier, views: list[ServerView]
) -> list[rest.Server]:
    """Servers as the caller sees them, each with how many of its members are online."""
    members = await member_user_ids_by_server(
        session=session, server_ids=[view.server.id for view in views]
    )
    everyone = sorted({user_id for ids in members.values() for user_id in ids})
    online = await notifier.online_user_ids(everyone)
    return [
        server_out(
            view, online_count=sum(1 for user_id in members[view.server.id] if user_id in online)
        )
        for view in views
    ]


async def members_out(*, notifier: Notifier, members: list[Member]) -> list[rest.Member]:
    """Members with whether each is online."""
    online = await notifier.online_user_ids([member.user.id for member in members])
    return [member_out(member, online=online) for member in members]
