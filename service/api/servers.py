"""Tag `servers`: servers (communities), joining and leaving them (service.chat.servers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from generated.rest.models import (
    JoinServerRequest,
    ServerCreateRequest,
    ServerList,
    ServerResponse,
    ServerUpdateRequest,
)
from service.api.body import post_with_optional_body, strict
from service.api.caller import Me
from service.api.params import ServerId
from service.db.servers import UNSET, ServerChanges, ServerFields
from service.errors import ValidationFailed

router = APIRouter(prefix="/api/servers", tags=["servers"])


@router.get("", operation_id="list_servers")
async def list_servers(me: Me) -> ServerList:
    """Public servers and the caller's servers, ordered by id."""
    return ServerList(servers=await me.servers(await me.chat.servers.visible(user_id=me.user_id)))


@router.post("", operation_id="create_server", status_code=201)
async def create_server(
    me: Me, body: Annotated[ServerCreateRequest, strict(ServerCreateRequest)]
) -> ServerResponse:
    """Create a server owned by the caller, with a `general` channel."""
    fields = ServerFields(
        name=body.name, is_public=body.is_public, thumbnail=body.thumbnail, banner=body.banner
    )
    view = await me.chat.servers.create(user_id=me.user_id, fields=fields)
    return await me.server(view)


@router.get("/{serverId}", operation_id="get_server")
async def get_server(server_id: ServerId, me: Me) -> ServerResponse:
    """One server: for its members, and for everyone when public."""
    return await me.server(await me.chat.servers.view(user_id=me.user_id, server_id=server_id))


@router.patch("/{serverId}", operation_id="update_server")
async def update_server(
    server_id: ServerId, me: Me, body: Annotated[ServerUpdateRequest, strict(ServerUpdateRequest)]
) -> ServerResponse:
    """Change a server's name, visibility or images (owner only)."""
    changes = _server_changes(body)
    view = await me.chat.servers.update(user_id=me.user_id, server_id=server_id, changes=changes)
    return await me.server(view)


@router.delete("/{serverId}", operation_id="delete_server", status_code=204)
async def delete_server(server_id: ServerId, me: Me) -> None:
    """Delete a server with everything in it (owner only); its sockets leave its rooms."""
    await me.chat.servers.delete(user_id=me.user_id, server_id=server_id)


@post_with_optional_body(router, "/{serverId}/join", operation_id="join_server")
async def join_server(
    server_id: ServerId,
    me: Me,
    body: Annotated[JoinServerRequest | None, strict(JoinServerRequest)] = None,
) -> ServerResponse:
    """Join a public server, or a private one with a live invite code of it."""
    code = body.code if body is not None else None
    view = await me.chat.servers.join(
        user_id=me.user_id, username=me.username, server_id=server_id, code=code
    )
    return await me.server(view)


@router.delete("/{serverId}/leave", operation_id="leave_server", status_code=204)
async def leave_server(server_id: ServerId, me: Me) -> None:
    """Stop being a member (not the owner); the leaver's sockets leave the server's rooms."""
    await me.chat.servers.leave(user_id=me.user_id, username=me.username, server_id=server_id)


def _server_changes(body: ServerUpdateRequest) -> ServerChanges:
    """What the client sent; 422 for an empty body or a null name / is_public."""
    sent = body.model_fields_set
    if not sent:
        detail = {"loc": ["body"], "msg": "send at least one field", "type": "min_properties"}
        raise ValidationFailed(details=[detail])
    nulls = [name for name in ("name", "is_public") if name in sent and getattr(body, name) is None]
    if nulls:
        raise ValidationFailed(
            details=[
                {"loc": ["body", name], "msg": "Input should not be null", "type": "not_nullable"}
                for name in nulls
            ]
        )
    return ServerChanges(
        name=body.name if body.name is not None else UNSET,
        is_public=body.is_public if body.is_public is not None else UNSET,
        thumbnail=body.thumbnail if "thumbnail" in sent else UNSET,
        banner=body.banner if "banner" in sent else UNSET,
    )
