"""What route handlers depend on: the app's parts, a DB session, the caller, its address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.api.cookies import set_session_cookie
from service.api.notifier import GuardedNotifier
from service.auth.passwords import Passwords
from service.auth.sessions import Principal, principal_from_cookie_header
from service.auth.throttle import LoginThrottle, SlidingWindowCounter
from service.errors import Unauthorized
from service.settings import Settings


@dataclass(slots=True)
class ApiContext:
    """Everything the REST routes use, built by `create_app` (one per app)."""

    settings: Settings
    secret: str
    sessionmaker: async_sessionmaker[AsyncSession]
    passwords: Passwords
    login_throttle: LoginThrottle
    # One per-user counter for posting, shared with the socket's `message:create`.
    message_limiter: SlidingWindowCounter
    notifier: GuardedNotifier
    # Set by the lifespan: the engine (health probe) and the Redis client, if configured.
    engine: AsyncEngine | None = None
    redis: Any = field(default=None)


def get_context(request: Request) -> ApiContext:
    """The app's ApiContext."""
    context: ApiContext = request.app.state.api
    return context


Context = Annotated[ApiContext, Depends(get_context)]


async def get_db_session(context: Context) -> AsyncIterator[AsyncSession]:
    """One DB session per request; handlers commit, anything uncommitted is rolled back."""
    async with context.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_db_session)]


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


async def get_current_user(request: Request, response: Response, context: Context) -> Principal:
    """The signed-in caller; the response re-sends the cookie (rolling expiry)."""
    principal = await _principal(request, context)
    set_session_cookie(
        response,
        settings=context.settings,
        secret=context.secret,
        session_id=principal.session_id,
        expires_at=principal.expires_at,
    )
    return principal


async def get_current_session(request: Request, context: Context) -> Principal:
    """The signed-in caller without refreshing the cookie (for logout, which clears it)."""
    return await _principal(request, context)


CurrentUser = Annotated[Principal, Depends(get_current_user)]
CurrentSession = Annotated[Principal, Depends(get_current_session)]


def get_client_address(request: Request) -> str | None:
    """The client's network address, the key of per-address login throttling."""
    return request.client.host if request.client is not None else None


ClientAddress = Annotated[str | None, Depends(get_client_address)]
