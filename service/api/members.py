"""Tag `members`: the members of a server and their roles (service.chat.members)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from generated.rest.models import MemberList, MemberResponse, MemberUpdateRequest
from service.api.body import strict
from service.api.caller import Me
from service.api.params import ServerId, UserId

router = APIRouter(prefix="/api/servers/{serverId}/members", tags=["members"])


@router.get("", operation_id="list_members")
async def list_members(server_id: ServerId, me: Me) -> MemberList:
    """Every member in the order they joined, with role and presence (members only)."""
    members = await me.chat.members.listed(user_id=me.user_id, server_id=server_id)
    return MemberList(members=await me.members(members))


@router.patch("/{userId}", operation_id="update_member")
async def update_member(
    server_id: ServerId,
    user_id: UserId,
    me: Me,
    body: Annotated[MemberUpdateRequest, strict(MemberUpdateRequest)],
) -> MemberResponse:
    """Change a member's role (owner only); `owner` hands the server over."""
    target = await me.chat.members.change_role(
        user_id=me.user_id, server_id=server_id, member_id=user_id, role=body.role
    )
    (member,) = await me.members([target])
    return MemberResponse(member=member)


@router.delete("/{userId}", operation_id="kick_member", status_code=204)
async def kick_member(server_id: ServerId, user_id: UserId, me: Me) -> None:
    """Remove a member: the owner anyone but itself, an admin plain members."""
    await me.chat.members.kick(user_id=me.user_id, server_id=server_id, member_id=user_id)
