"""Tag `channels`: the text channels of a server (service.chat.channels)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from generated.rest.models import (
    ChannelCreateRequest,
    ChannelList,
    ChannelResponse,
    ChannelUpdateRequest,
)
from service.api.body import strict
from service.api.caller import Me
from service.api.params import ChannelId, ServerId
from service.api.views import rest_channel

router = APIRouter(prefix="/api", tags=["channels"])


@router.get("/servers/{serverId}/channels", operation_id="list_channels")
async def list_channels(server_id: ServerId, me: Me) -> ChannelList:
    """The server's channels, ordered by id (members only)."""
    rows = await me.chat.channels.listed(user_id=me.user_id, server_id=server_id)
    return ChannelList(channels=[rest_channel(row) for row in rows])


@router.post("/servers/{serverId}/channels", operation_id="create_channel", status_code=201)
async def create_channel(
    server_id: ServerId, me: Me, body: Annotated[ChannelCreateRequest, strict(ChannelCreateRequest)]
) -> ChannelResponse:
    """Create a channel with a name unique in the server (owner or admin)."""
    row = await me.chat.channels.create(user_id=me.user_id, server_id=server_id, name=body.name)
    return ChannelResponse(channel=rest_channel(row))


@router.get("/channels/{channelId}", operation_id="get_channel")
async def get_channel(channel_id: ChannelId, me: Me) -> ChannelResponse:
    """One channel (members of its server only)."""
    access = await me.chat.channels.require_member(user_id=me.user_id, channel_id=channel_id)
    return ChannelResponse(channel=rest_channel(access.channel))


@router.patch("/channels/{channelId}", operation_id="update_channel")
async def update_channel(
    channel_id: ChannelId,
    me: Me,
    body: Annotated[ChannelUpdateRequest, strict(ChannelUpdateRequest)],
) -> ChannelResponse:
    """Rename a channel (owner or admin); the current name is a no-op that emits nothing."""
    row = await me.chat.channels.rename(user_id=me.user_id, channel_id=channel_id, name=body.name)
    return ChannelResponse(channel=rest_channel(row))


@router.delete("/channels/{channelId}", operation_id="delete_channel", status_code=204)
async def delete_channel(channel_id: ChannelId, me: Me) -> None:
    """Delete a channel and its messages (owner or admin); its sockets leave its room."""
    await me.chat.channels.delete(user_id=me.user_id, channel_id=channel_id)
