"""Tag `invites`: invite codes for private (and public) servers (service.chat.invites)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from generated.rest.models import Invite, InviteAcceptRequest, InviteCreateRequest, ServerResponse
from service.api.body import no_json_null, strict
from service.api.deps import ApiDep, CurrentUser, DbSessionDep
from service.api.online import server_response
from service.api.params import ServerId
from service.api.views import invite_out

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
    context: ApiDep,
    body: Annotated[InviteCreateRequest | None, strict(InviteCreateRequest)] = None,
) -> Invite:
    """A new unguessable invite code (owner or admin)."""
    body = body or InviteCreateRequest()
    invite = await context.chat.invites.create(
        user_id=principal.user_id,
        server_id=server_id,
        expires_in_seconds=body.expires_in_seconds,
        max_uses=body.max_uses,
    )
    return invite_out(invite)


@router.post("/invites/accept", operation_id="accept_invite", status_code=201)
async def accept_invite(
    principal: CurrentUser,
    body: Annotated[InviteAcceptRequest, strict(InviteAcceptRequest)],
    context: ApiDep,
    session: DbSessionDep,
) -> ServerResponse:
    """Join the invite's server; concurrent accepts never exceed `max_uses`."""
    view = await context.chat.invites.accept(
        user_id=principal.user_id, username=principal.username, code=body.code
    )
    return await server_response(session=session, notifier=context.notifier, view=view)
