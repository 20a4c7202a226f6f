"""Tag `servers`: servers (communities), joining and leaving them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends

from generated.rest.models import (
    JoinServerRequest,
    ServerCreateRequest,
    ServerList,
    ServerResponse,
    ServerUpdateRequest,
)
from service.api.access import OWNER, server_for, visible_server
from service.api.body import no_json_null, strict, trimmed
from service.api.deps import Context, CurrentUser, SessionDep
from service.api.online import server_out_online, servers_out
from service.api.params import ServerId
from service.db import memberships as memberships_db
from service.db import servers as servers_db
from service.db.servers import UNSET, ServerView, Unset
from service.errors import (
    InviteExpired,
    InviteNotFound,
    InviteRequired,
    OwnerCannotLeave,
    ValidationFailed,
)
from service.wire import server_info_out

router = APIRouter(prefix="/api/servers", tags=["servers"])


@router.get("", operation_id="list_servers")
async def list_servers(principal: CurrentUser, context: Context, session: SessionDep) -> ServerList:
    """Public servers and the caller's servers, ordered by id."""
    views = await servers_db.list_visible_servers(session=session, user_id=principal.user_id)
    return ServerList(
        servers=await servers_out(session=session, notifier=context.notifier, views=views)
    )


@router.post("", operation_id="create_server", status_code=201)
async def create_server(
    principal: CurrentUser,
    body: Annotated[ServerCreateRequest, strict(ServerCreateRequest)],
    context: Context,
    session: SessionDep,
) -> ServerResponse:
    """Create a server owned by the caller, with a `general` channel."""
    row = await servers_db.create_server(
        session=session,
        owner_id=principal.user_id,
        name=trimmed(body.name, "name"),
        is_public=body.is_public,
        thumbnail=body.thumbnail,
        banner=body.banner,
    )
    await session.commit()
    view = ServerView(server=row, role="owner", member_count=1)
    return ServerResponse(
        server=await server_out_online(session=session, notifier=context.notifier, view=view)
    )


@router.get("/{serverId}", operation_id="get_server")
async def get_server(
    server_id: ServerId, principal: CurrentUser, context: Context, session: SessionDep
) -> ServerResponse:
    """One server: for its members, and for everyone when public."""
    view = await visible_server(session=session, server_id=server_id, user_id=principal.user_id)
    return ServerResponse(
        server=await server_out_online(session=session, notifier=context.notifier, view=view)
    )


@router.patch("/{serverId}", operation_id="update_server")
async def update_server(
    server_id: ServerId,
    principal: CurrentUser,
    body: Annotated[ServerUpdateRequest, strict(ServerUpdateRequest)],
    context: Context,
    session: SessionDep,
) -> ServerResponse:
    """Change a server's name, visibility or images (owner only)."""
    changes = _server_changes(body)
    view = await server_for(
        session=session, server_id=server_id, user_id=principal.user_id, roles=OWNER
    )
    row = await servers_db.update_server(
        session=session,
        server_id=server_id,
        name=changes.name,
        is_public=changes.is_public,
        thumbnail=changes.thumbnail,
        banner=changes.banner,
    )
    await session.commit()
    await context.notifier.server_updated(server_info_out(row))
    view = ServerView(server=row, role=view.role, member_count=view.member_count)
    return ServerResponse(
        server=await server_out_online(session=session, notifier=context.notifier, view=view)
    )


@router.delete("/{serverId}", operation_id="delete_server", status_code=204)
async def delete_server(
    server_id: ServerId, principal: CurrentUser, context: Context, session: SessionDep
) -> None:
    """Delete a server with everything in it (owner only); its sockets leave its rooms."""
    await server_for(session=session, server_id=server_id, user_id=principal.user_id, roles=OWNER)
    channel_ids = await servers_db.delete_server(session=session, server_id=server_id)
    await session.commit()
    await context.notifier.server_deleted(server_id=server_id, channel_ids=channel_ids)


@router.post(
    "/{serverId}/join",
    operation_id="join_server",
    status_code=201,
    dependencies=[Depends(no_json_null)],
)
async def join_server(
    server_id: ServerId,
    principal: CurrentUser,
    context: Context,
    session: SessionDep,
    body: Annotated[JoinServerRequest | None, strict(JoinServerRequest)] = None,
) -> ServerResponse:
    """Join a public server, or a private one with a live invite code of it."""
    try:
        await servers_db.join_server(
            session=session,
            server_id=server_id,
            user_id=principal.user_id,
            code=body.code if body is not None else None,
        )
    except (InviteNotFound, InviteExpired) as exc:
        # join_server does not say why a code was refused; accept_invite does.
        raise InviteRequired(
            server_id, f"server {server_id!r} is private; a live invite code is required"
        ) from exc
    view = await visible_server(session=session, server_id=server_id, user_id=principal.user_id)
    await session.commit()
    await context.notifier.member_joined(
        server_id=server_id, user_id=principal.user_id, username=principal.username
    )
    return ServerResponse(
        server=await server_out_online(session=session, notifier=context.notifier, view=view)
    )


@router.delete("/{serverId}/leave", operation_id="leave_server", status_code=204)
async def leave_server(
    server_id: ServerId, principal: CurrentUser, context: Context, session: SessionDep
) -> None:
    """Stop being a member (not the owner); the leaver's sockets leave the server's rooms."""
    view = await server_for(session=session, server_id=server_id, user_id=principal.user_id)
    if view.role == "owner":
        raise OwnerCannotLeave(server_id, f"the owner of server {server_id!r} cannot leave it")
    await memberships_db.remove_member(
        session=session, server_id=server_id, user_id=principal.user_id
    )
    await session.commit()
    await context.notifier.member_left(
        server_id=server_id, user_id=principal.user_id, username=principal.username
    )


@dataclass(frozen=True, slots=True)
class _ServerChanges:
    """The fields of a server PATCH; UNSET ones stay as they are."""

    name: str | Unset = UNSET
    is_public: bool | Unset = UNSET
    thumbnail: str | Unset | None = UNSET
    banner: str | Unset | None = UNSET


def _server_changes(body: ServerUpdateRequest) -> _ServerChanges:
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
    return _ServerChanges(
        name=trimmed(body.name, "name") if body.name is not None else UNSET,
        is_public=body.is_public if body.is_public is not None else UNSET,
        thumbnail=body.thumbnail if "thumbnail" in sent else UNSET,
        banner=body.banner if "banner" in sent else UNSET,
    )
