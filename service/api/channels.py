"""Tag `channels`: the text channels of a server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from generated.rest.models import (
    ChannelCreateRequest,
    ChannelList,
    ChannelResponse,
    ChannelUpdateRequest,
)
from service.api.access import MODERATORS, channel_for, server_for
from service.api.body import strict
from service.api.deps import Context, CurrentUser, SessionDep
from service.api.params import ChannelId, ServerId
from service.api.views import rest_channel
from service.db import channels as channels_db
from service.wire import channel_out

router = APIRouter(prefix="/api", tags=["channels"])


@router.get("/servers/{serverId}/channels", operation_id="list_channels")
async def list_channels(
    server_id: ServerId, principal: CurrentUser, session: SessionDep
) -> ChannelList:
    """The server's channels, ordered by id (members only)."""
    await server_for(session=session, server_id=server_id, user_id=principal.user_id)
    rows = await channels_db.list_channels(session=session, server_id=server_id)
    return ChannelList(channels=[rest_channel(row) for row in rows])


@router.post("/servers/{serverId}/channels", operation_id="create_channel", status_code=201)
async def create_channel(
    server_id: ServerId,
    principal: CurrentUser,
    body: Annotated[ChannelCreateRequest, strict(ChannelCreateRequest)],
    context: Context,
    session: SessionDep,
) -> ChannelResponse:
    """Create a channel with a name unique in the server (owner or admin)."""
    await server_for(
        session=session, server_id=server_id, user_id=principal.user_id, roles=MODERATORS
    )
    row = await channels_db.create_channel(session=session, server_id=server_id, name=body.name)
    await session.commit()
    await context.notifier.channel_created(channel_out(row))
    return ChannelResponse(channel=rest_channel(row))


@router.get("/channels/{channelId}", operation_id="get_channel")
async def get_channel(
    channel_id: ChannelId, principal: CurrentUser, session: SessionDep
) -> ChannelResponse:
    """One channel (members of its server only)."""
    access = await channel_for(session=session, channel_id=channel_id, user_id=principal.user_id)
    return ChannelResponse(channel=rest_channel(access.channel))


@router.patch("/channels/{channelId}", operation_id="update_channel")
async def update_channel(
    channel_id: ChannelId,
    principal: CurrentUser,
    body: Annotated[ChannelUpdateRequest, strict(ChannelUpdateRequest)],
    context: Context,
    session: SessionDep,
) -> ChannelResponse:
    """Rename a channel (owner or admin); the current name is a no-op that emits nothing."""
    access = await channel_for(
        session=session, channel_id=channel_id, user_id=principal.user_id, roles=MODERATORS
    )
    unchanged = access.channel.name == body.name
    row = await channels_db.rename_channel(session=session, channel_id=channel_id, name=body.name)
    await session.commit()
    if not unchanged:
        await context.notifier.channel_updated(channel_out(row))
    return ChannelResponse(channel=rest_channel(row))


@router.delete("/channels/{channelId}", operation_id="delete_channel", status_code=204)
async def delete_channel(
    channel_id: ChannelId, principal: CurrentUser, context: Context, session: SessionDep
) -> None:
    """Delete a channel and its messages (owner or admin); its sockets leave its room."""
    access = await channel_for(
        session=session, channel_id=channel_id, user_id=principal.user_id, roles=MODERATORS
    )
    await channels_db.delete_channel(session=session, channel_id=channel_id)
    await session.commit()
    await context.notifier.channel_deleted(channel_id=channel_id, server_id=access.server.id)
