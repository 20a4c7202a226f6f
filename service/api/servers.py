"""Tag `servers`: servers (communities), joining and leaving them (service.chat.servers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from generated.rest.models import (
    JoinServerRequest,
    ServerCreateRequest,
    ServerList,
    ServerResponse,
    ServerUpdateRequest,
)
from service.api.body import no_json_null, strict
from service.api.deps import ApiDep, CurrentUser, DbSessionDep
from service.api.online import server_response, servers_out
from service.api.params import ServerId
from service.chat.servers import ServerChanges
from service.db.servers import UNSET
from service.errors import ValidationFailed

router = APIRouter(prefix="/api/servers", tags=["servers"])


@router.get("", operation_id="list_servers")
async def list_servers(
    principal: CurrentUser, context: ApiDep, session: DbSessionDep
) -> ServerList:
    """Public servers and the caller's servers, ordered by id."""
    views = await context.chat.servers.visible(user_id=principal.user_id)
    return ServerList(
        servers=await servers_out(session=session, notifier=context.notifier, views=views)
    )


@router.post("", operation_id="create_server", status_code=201)
async def create_server(
    principal: CurrentUser,
    body: Annotated[ServerCreateRequest, strict(ServerCreateRequest)],
    context: ApiDep,
    session: DbSessionDep,
) -> ServerResponse:
    """Create a server owned by the caller, with a `general` channel."""
    view = await context.chat.servers.create(
        user_id=principal.user_id,
        name=body.name,
        is_public=body.is_public,
        thumbnail=body.thumbnail,
        banner=body.banner,
    )
    return await server_response(session=session, notifier=context.notifier, view=view)


@router.get("/{serverId}", operation_id="get_server")
async def get_server(
    server_id: ServerId, principal: CurrentUser, context: ApiDep, session: DbSessionDep
) -> ServerResponse:
    """One server: for its members, and for everyone when public."""
    view = await context.chat.servers.view(user_id=principal.user_id, server_id=server_id)
    return await server_response(session=session, notifier=context.notifier, view=view)


@router.patch("/{serverId}", operation_id="update_server")
async def update_server(
    server_id: ServerId,
    principal: CurrentUser,
    body: Annotated[ServerUpdateRequest, strict(ServerUpdateRequest)],
    context: ApiDep,
    session: DbSessionDep,
) -> ServerResponse:
    """Change a server's name, visibility or images (owner only)."""
    view = await context.chat.servers.update(
        user_id=principal.user_id, server_id=server_id, changes=_server_changes(body)
    )
    return await server_response(session=session, notifier=context.notifier, view=view)


@router.delete("/{serverId}", operation_id="delete_server", status_code=204)
async def delete_server(server_id: ServerId, principal: CurrentUser, context: ApiDep) -> None:
    """Delete a server with everything in it (owner only); its sockets leave its rooms."""
    await context.chat.servers.delete(user_id=principal.user_id, server_id=server_id)


@router.post(
    "/{serverId}/join",
    operation_id="join_server",
    status_code=201,
    dependencies=[Depends(no_json_null)],
)
async def join_server(
    server_id: ServerId,
    principal: CurrentUser,
    context: ApiDep,
    session: DbSessionDep,
    body: Annotated[JoinServerRequest | None, strict(JoinServerRequest)] = None,
) -> ServerResponse:
    """Join a public server, or a private one with a live invite code of it."""
    view = await context.chat.servers.join(
        user_id=principal.user_id,
        username=principal.username,
        server_id=server_id,
        code=body.code if body is not None else None,
    )
    return await server_response(session=session, notifier=context.notifier, view=view)


@router.delete("/{serverId}/leave", operation_id="leave_server", status_code=204)
async def leave_server(server_id: ServerId, principal: CurrentUser, context: ApiDep) -> None:
    """Stop being a member (not the owner); the leaver's sockets leave the server's rooms."""
    await context.chat.servers.leave(
        user_id=principal.user_id, username=principal.username, server_id=server_id
    )


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
