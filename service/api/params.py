"""Path and query parameters as the contract defines them (`common.yaml#/$defs/Id`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2_147_483_647

ServerId = Annotated[int, Path(alias="serverId", ge=1, le=MAX_ID)]
ChannelId = Annotated[int, Path(alias="channelId", ge=1, le=MAX_ID)]
UserId = Annotated[int, Path(alias="userId", ge=1, le=MAX_ID)]
MessageId = Annotated[int, Path(alias="messageId", ge=1, le=MAX_ID)]

PageLimit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[int | None, Query(ge=1, le=MAX_ID)]
