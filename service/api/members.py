"""Tag `members`: the members of a server and their roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from generated.rest.models import MemberList, MemberResponse, MemberUpdateRequest
from service.api.access import MODERATORS, OWNER, server_for
from service.api.body import strict
from service.api.deps import Context, CurrentUser, SessionDep
from service.api.notifier import GuardedNotifier
from service.api.online import members_out
from service.api.params import ServerId, UserId
from service.db import memberships as memberships_db
from service.db.memberships import Member
from service.db.servers import ServerView
from service.errors import Forbidden, UserNotFound
from service.wire import server_info_out

router = APIRouter(prefix="/api/servers/{serverId}/members", tags=["members"])


@router.get("", operation_id="list_members")
async def list_members(
    server_id: ServerId, principal: CurrentUser, context: Context, session: SessionDep
) -> MemberList:
    """Every member in the order they joined, with role and presence (members only)."""
    await server_for(session=session, server_id=server_id, user_id=principal.user_id)
    members = await memberships_db.list_members(session=session, server_id=server_id)
    return MemberList(members=await members_out(notifier=context.notifier, members=members))


@router.patch("/{userId}", operation_id="update_member")
async def update_member(
    server_id: ServerId,
    user_id: UserId,
    principal: CurrentUser,
    body: Annotated[MemberUpdateRequest, strict(MemberUpdateRequest)],
    context: Context,
    session: SessionDep,
) -> MemberResponse:
    """Change a member's role (owner only); `owner` hands the server over."""
    view = await server_for(
        session=session, server_id=server_id, user_id=principal.user_id, roles=OWNER
    )
    if user_id == principal.user_id:
        raise Forbidden(
            f"the owner cannot change its own role in server {server_id!r}; "
            "make another member the owner instead"
        )
    target = await _member(session=session, server_id=server_id, user_id=user_id)
    if target.role != body.role:
        await memberships_db.set_role(
            session=session, server_id=server_id, user_id=user_id, role=body.role
        )
        await session.commit()
        await _announce_role(
            notifier=context.notifier, view=view, target=target, by=principal.user_id
        )
    (member,) = await members_out(notifier=context.notifier, members=[target])
    return MemberResponse(member=member)


@router.delete("/{userId}", operation_id="kick_member", status_code=204)
async def kick_member(
    server_id: ServerId,
    user_id: UserId,
    principal: CurrentUser,
    context: Context,
    session: SessionDep,
) -> None:
    """Remove a member: the owner anyone but itself, an admin plain members."""
    view = await server_for(
        session=session, server_id=server_id, user_id=principal.user_id, roles=MODERATORS
    )
    target = await _member(session=session, server_id=server_id, user_id=user_id)
    if user_id == principal.user_id:
        raise Forbidden(f"you cannot remove yourself from server {server_id!r}; leave it instead")
    if view.role == "admin" and target.role != "member":
        raise Forbidden(
            f"an admin cannot remove the {target.role} {user_id!r} from server {server_id!r}"
        )
    await memberships_db.remove_member(session=session, server_id=server_id, user_id=user_id)
    await session.commit()
    await context.notifier.member_left(
        server_id=server_id, user_id=user_id, username=target.user.username
    )


async def _member(*, session: AsyncSession, server_id: int, user_id: int) -> Member:
    """A member of the server, else 404 E_USER_NOT_FOUND."""
    member = await memberships_db.get_member(session=session, server_id=server_id, user_id=user_id)
    if member is None:
        raise UserNotFound(user_id, f"user {user_id!r} is not a member of server {server_id!r}")
    return member


async def _announce_role(
    *, notifier: GuardedNotifier, view: ServerView, target: Member, by: int
) -> None:
    """`server:member_updated`; on a transfer also the former owner's and `server:updated`."""
    server_id = view.server.id
    await notifier.member_updated(server_id=server_id, user_id=target.user.id, role=target.role)
    if target.role == "owner":
        await notifier.member_updated(server_id=server_id, user_id=by, role="admin")
        # The transfer changed the server row loaded for the access check (owner_id).
        await notifier.server_updated(server_info_out(view.server))
