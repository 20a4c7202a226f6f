"""Tag `invites`: invite codes for private (and public) servers (service.chat.invites)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from generated.rest.models import Invite, InviteAcceptRequest, InviteCreateRequest, ServerResponse
from service.api.body import post_with_optional_body, strict
from service.api.caller import Me
from service.api.params import ServerId
from service.api.views import invite_out

router = APIRouter(prefix="/api", tags=["invites"])


@post_with_optional_body(router, "/servers/{serverId}/invites", operation_id="create_invite")
async def create_invite(
    server_id: ServerId,
    me: Me,
    body: Annotated[InviteCreateRequest | None, strict(InviteCreateRequest)] = None,
) -> Invite:
    """A new unguessable invite code (owner or admin)."""
    body = body or InviteCreateRequest()
    invite = await me.chat.invites.create(
        user_id=me.user_id,
        server_id=server_id,
        expires_in_seconds=body.expires_in_seconds,
        max_uses=body.max_uses,
    )
    return invite_out(invite)


@router.post("/invites/accept", operation_id="accept_invite", status_code=201)
async def accept_invite(
    me: Me, body: Annotated[InviteAcceptRequest, strict(InviteAcceptRequest)]
) -> ServerResponse:
    """Join the invite's server; concurrent accepts never exceed `max_uses`."""
    view = await me.chat.invites.accept(user_id=me.user_id, username=me.username, code=body.code)
    return await me.server(view)
