"""`create_app(settings)`: the whole service wired together; nothing happens at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from generated.rest.operations import VERSION
from service.api import docs, routers
from service.api.deps import ApiContext
from service.api.errors import BodyLimitMiddleware, InternalErrorMiddleware, install_error_handlers
from service.api.notifier import GuardedNotifier, NoSockets
from service.api.spec import install_spec
from service.auth.passwords import Passwords
from service.auth.throttle import InMemorySlidingWindow, LoginThrottle
from service.db.engine import create_engine
from service.db.migrate import prepare_schema
from service.realtime.notify import Notifier
from service.realtime.redis_common import connect_redis
from service.realtime.server import create_realtime
from service.settings import Settings, resolve_secret_key
from service.transport.guards import guarded


def create_app(settings: Settings, *, notifier: Notifier | None = None) -> ASGIApp:
    """The ASGI app: REST (FastAPI) and, once mounted, Socket.IO, on one port and session.

    `notifier` stands in for the real-time side until `_mount_realtime` builds it.
    """
    secret = resolve_secret_key(settings)
    # Bound to the engine the lifespan creates; the real-time side gets it already now.
    sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(expire_on_commit=False)
    api = FastAPI(
        title="Zizany REST API",
        version=VERSION,
        lifespan=_lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    api.state.api = ApiContext(
        settings=settings,
        secret=secret,
        sessionmaker=sessionmaker,
        passwords=Passwords.from_settings(settings),
        login_throttle=LoginThrottle.from_settings(settings),
        message_limiter=InMemorySlidingWindow(
            limit=settings.message_rate_limit,
            window_seconds=settings.message_rate_window_seconds,
        ),
        notifier=GuardedNotifier(NoSockets()),
    )
    install_error_handlers(api)
    install_spec(api)
    api.include_router(docs.router)
    for router in routers():
        api.include_router(router)
    # Added innermost first: CORS wraps everything, so error answers carry its headers too.
    api.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    api.add_middleware(InternalErrorMiddleware)
    api.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Content-Type"],
    )
    realtime_app = _mount_realtime(
        api, settings=settings, sessionmaker=sessionmaker, secret=secret, notifier=notifier
    )
    return guarded(realtime_app, settings)  # outermost: service.transport.guards


def _mount_realtime(
    api: FastAPI,
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    secret: str,
    notifier: Notifier | None,
) -> ASGIApp:
    """The seam to the real-time side: give REST its notifier, put Socket.IO around it.

    With `notifier` (REST-only tests) a stand-in replaces the sockets and no Socket.IO
    server is mounted; otherwise REST and Socket.IO share one port, session store,
    message rate counter and login throttle.
    """
    context: ApiContext = api.state.api
    if notifier is not None:
        context.notifier = GuardedNotifier(notifier)
        return api
    realtime = create_realtime(settings=settings, sessionmaker=sessionmaker, secret=secret)
    context.notifier = GuardedNotifier(realtime)
    context.message_limiter = realtime.message_rate
    context.login_throttle = realtime.login_throttle
    api.state.realtime = realtime
    return realtime.asgi(api)


@asynccontextmanager
async def _lifespan(api: FastAPI) -> AsyncIterator[None]:
    """Migrate the embedded database, connect the engine (and Redis); dispose at the end."""
    context: ApiContext = api.state.api
    settings = context.settings
    await prepare_schema(settings)  # migrate the embedded one, refuse an unmigrated one
    engine = create_engine(settings)
    context.sessionmaker.configure(bind=engine)
    context.engine = engine
    if settings.redis_url is not None:
        context.redis = connect_redis(settings.redis_url)
    try:
        yield
    finally:
        if context.redis is not None:
            await context.redis.aclose()
            context.redis = None
        context.engine = None
        await engine.dispose()
