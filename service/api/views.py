"""Rows → REST wire models: what a client receives, built field by field from rows.

The message and channel objects come from `service.wire`: both specs share their schema
(spec/common.yaml), so REST and the socket events use one generated class
(`generated.common.models`) and a REST answer and the matching socket event are one object.
"""

from __future__ import annotations

from collections.abc import Collection

from generated.rest import models as rest
from service.db.memberships import Member
from service.db.messages import AuthoredMessage
from service.db.servers import ServerView
from service.db.tables import ChannelRow, InviteRow, UserRow, as_role
from service.db.timestamps import to_wire_timestamp
from service.wire import channel_out, message_out, server_fields


def user_out(row: UserRow) -> rest.User:
    """The signed-in user, with the private fields only /api/auth/* shows."""
    return rest.User(
        id=row.id,
        username=row.username,
        email=row.email,
        thumbnail=row.thumbnail,
        created_at=to_wire_timestamp(row.created_at),
    )


def server_out(view: ServerView, *, online_count: int) -> rest.Server:
    """A server as the caller sees it (role and counts are the caller's)."""
    return rest.Server(
        **server_fields(view.server),
        member_count=view.member_count,
        online_count=online_count,
        role=view.role,
    )


def member_out(member: Member, *, online: Collection[int]) -> rest.Member:
    """A membership with the member's public profile and whether they are online."""
    return rest.Member(
        user=rest.MemberUser(
            id=member.user.id, username=member.user.username, thumbnail=member.user.thumbnail
        ),
        role=as_role(member.membership.role),
        joined_at=to_wire_timestamp(member.membership.joined_at),
        online=member.user.id in online,
    )


def invite_out(row: InviteRow) -> rest.Invite:
    """An invite code with its limits and use count."""
    return rest.Invite(
        code=row.code,
        server_id=row.server_id,
        expires_at=to_wire_timestamp(row.expires_at) if row.expires_at is not None else None,
        max_uses=row.max_uses,
        uses=row.uses,
    )


def rest_channel(row: ChannelRow) -> rest.Channel:
    """The channel object (the `channel:created` / `channel:updated` payload)."""
    return channel_out(row)


def rest_message(item: AuthoredMessage) -> rest.Message:
    """The message object (the `message:new` / `message:updated` payload)."""
    return message_out(item)
