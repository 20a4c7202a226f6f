"""What route handlers depend on: the app's parts, a DB session, the caller, its address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Protocol

from fastapi import Depends, Request, Response
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.api.cookies import set_session_cookie
from service.auth.logins import Principal, principal_from_cookie_header
from service.auth.passwords import Passwords
from service.auth.throttle import LoginThrottle
from service.chat.domain import Chat
from service.chat.notifier import Guarded
from service.errors import Unauthorized
from service.settings import Settings


class RestParts(Protocol):
    """The process's parts REST uses (service.parts.Parts has them)."""

    settings: Settings
    secret: str
    sessionmaker: async_sessionmaker[AsyncSession]
    passwords: Passwords
    login_throttle: LoginThrottle
    redis: Redis | None


class ApiContext:
    """Everything the REST routes use, built by `create_app` (one per app)."""

    def __init__(self, parts: RestParts, *, chat: Chat, notifier: Guarded) -> None:
        self.settings = parts.settings
        self.secret = parts.secret
        self.sessionmaker = parts.sessionmaker
        self.passwords = parts.passwords
        self.login_throttle = parts.login_throttle
        # The process's Redis client (health probe), if configured.
        self.redis = parts.redis
        # The domain layer (every change goes through it) and its notifier (presence reads).
        self.chat = chat
        self.notifier = notifier
        # The engine (health probe), set while the lifespan runs.
        self.engine: AsyncEngine | None = None


def get_context(request: Request) -> ApiContext:
    """The app's ApiContext."""
    context: ApiContext = request.app.state.api
    return context


ApiDep = Annotated[ApiContext, Depends(get_context)]


async def get_db_session(context: ApiDep) -> AsyncIterator[AsyncSession]:
    """One DB session per request; handlers commit, anything uncommitted is rolled back."""
    async with context.sessionmaker() as session:
        yield session


DbSessionDep = Annotated[AsyncSession, Depends(get_db_session)]


async def _principal(request: Request, context: ApiContext) -> Principal:
    """The caller behind the request's session cookie (resolved once per request), else 401."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await principal_from_cookie_header(
        sessionmaker=context.sessionmaker,
        secret=context.secret,
        cookie_header=request.headers.get("cookie"),
    )
    if principal is None:
        raise Unauthorized("sign in first")
    request.state.principal = principal
    return principal


async def get_current_user(request: Request, response: Response, context: ApiDep) -> Principal:
    """The signed-in caller; the response re-sends the cookie (rolling expiry)."""
    principal = await _principal(request, context)
    set_session_cookie(
        response,
        settings=context.settings,
        secret=context.secret,
        login_id=principal.login_id,
        expires_at=principal.expires_at,
    )
    return principal


async def get_current_login(request: Request, context: ApiDep) -> Principal:
    """The signed-in caller without refreshing the cookie (for logout, which clears it)."""
    return await _principal(request, context)


CurrentUser = Annotated[Principal, Depends(get_current_user)]
CurrentLogin = Annotated[Principal, Depends(get_current_login)]


def get_client_address(request: Request) -> str | None:
    """The client's network address, the key of per-address login throttling."""
    return request.client.host if request.client is not None else None


ClientAddress = Annotated[str | None, Depends(get_client_address)]
