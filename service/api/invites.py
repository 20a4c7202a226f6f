"""Tag `invites`: invite codes for private (and public) servers."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends

from generated.rest.models import Invite, InviteAcceptRequest, InviteCreateRequest, ServerResponse
from service.api.access import MODERATORS, server_for, visible_server
from service.api.body import no_json_null, strict
from service.api.deps import Context, CurrentUser, SessionDep
from service.api.online import server_out_online
from service.api.params import ServerId
from service.api.views import invite_out
from service.db import invites as invites_db

router = APIRouter(prefix="/api", tags=["invites"])


@router.post(
    "/servers/{serverId}/invites",
    operation_id="create_invite",
    status_code=201,
    dependencies=[Depends(no_json_null)],
)
async def create_invite(
    server_id: ServerId,
    principal: CurrentUser,
    session: SessionDep,
    body: Annotated[InviteCreateRequest | None, strict(InviteCreateRequest)] = None,
) -> Invite:
    """A new unguessable invite code (owner or admin)."""
    await server_for(
        session=session, server_id=server_id, user_id=principal.user_id, roles=MODERATORS
    )
    body = body or InviteCreateRequest()
    invite = await invites_db.create_invite(
        session=session,
        server_id=server_id,
        created_by=principal.user_id,
        expires_in=(
            timedelta(seconds=body.expires_in_seconds)
            if body.expires_in_seconds is not None
            else None
        ),
        max_uses=body.max_uses,
    )
    await session.commit()
    return invite_out(invite)


@router.post("/invites/accept", operation_id="accept_invite", status_code=201)
async def accept_invite(
    principal: CurrentUser,
    body: Annotated[InviteAcceptRequest, strict(InviteAcceptRequest)],
    context: Context,
    session: SessionDep,
) -> ServerResponse:
    """Join the invite's server; concurrent accepts never exceed `max_uses`."""
    membership = await invites_db.accept_invite(
        session=session, code=body.code, user_id=principal.user_id
    )
    view = await visible_server(
        session=session, server_id=membership.server_id, user_id=principal.user_id
    )
    await session.commit()
    await context.notifier.member_joined(
        server_id=membership.server_id, user_id=principal.user_id, username=principal.username
    )
    return ServerResponse(
        server=await server_out_online(session=session, notifier=context.notifier, view=view)
    )
