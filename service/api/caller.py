"""The signed-in caller of a route, with the domain layer it acts on and its presence-aware
answers: the one parameter (`me: Me`) most routes need besides their path and body."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from generated.rest import models as rest
from service.api.deps import ApiDep, CurrentUser
from service.api.online import members_out, servers_out
from service.chat.domain import Chat
from service.db.memberships import Member
from service.db.servers import ServerView


class Caller:
    """Who calls (`user_id`, `username`), `chat` to act with, and answers that need presence."""

    def __init__(self, principal: CurrentUser, context: ApiDep) -> None:
        self.user_id = principal.user_id
        self.username = principal.username
        self.chat: Chat = context.chat
        self._context = context

    async def servers(self, views: list[ServerView]) -> list[rest.Server]:
        """Servers as the caller sees them, each with its online count."""
        async with self._context.sessionmaker() as session:
            return await servers_out(session=session, notifier=self._context.notifier, views=views)

    async def server(self, view: ServerView) -> rest.ServerResponse:
        """The answer with one server as the caller sees it."""
        (server,) = await self.servers([view])
        return rest.ServerResponse(server=server)

    async def members(self, members: list[Member]) -> list[rest.Member]:
        """Members with whether each is online."""
        return await members_out(notifier=self._context.notifier, members=members)


Me = Annotated[Caller, Depends()]
