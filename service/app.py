"""`create_app(settings)`: the whole service wired together; nothing happens at import.

service.parts builds the process's parts; this module puts REST (FastAPI) and Socket.IO
(service.realtime.assembly) on them, on one port and one login cookie, with ONE lifespan:
parts first, then the real-time side; stopped in the reverse order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from generated.rest.operations import VERSION
from service.api import docs, front, routers
from service.api.app_page import install_web_client
from service.api.deps import ApiContext
from service.api.errors import BodyLimitMiddleware, InternalErrorMiddleware, install_error_handlers
from service.api.routes import check_routes
from service.api.spec import bundle_openapi, install_spec
from service.chat.domain import Chat
from service.chat.notifier import Guarded, Notifier
from service.chat.parts import ChatParts
from service.observe import observe
from service.parts import Parts, build_parts, running
from service.realtime.assembly import Implementations, Realtime
from service.settings import Settings
from service.transport import guards

log = logging.getLogger("zizany.shutdown")


class App:
    """The ASGI app of one process, with its parts (for tests and tools) and the real-time side.

    `realtime` is None for a REST-only app (`create_app(settings, notifier=...)`). It is
    `service.shutdown.Drainable`: the server drains it on SIGTERM.
    """

    def __init__(
        self,
        asgi: guards.TransportGuards,
        *,
        api: FastAPI,
        parts: Parts,
        realtime: Realtime | None,
    ) -> None:
        self.asgi = asgi
        self.api = api
        self.parts = parts
        self.realtime = realtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)

    def begin_draining(self) -> None:
        """Refuse new requests and handshakes (503) and new client events (no ack)."""
        self.asgi.begin_draining()
        if self.realtime is not None:
            self.realtime.drain.begin()

    async def finish_events(self, deadline: float) -> None:
        """Wait (until the monotonic `deadline`) for the client events being handled."""
        if self.realtime is not None:
            await self.realtime.drain.finish_events(deadline)

    async def close_sockets(self, deadline: float) -> None:
        """Close every socket of the process (1012), their cleanup run, by `deadline`."""
        if self.realtime is not None:
            closed = await self.realtime.drain.close_sockets(deadline)
            log.info("closed %d sockets", closed)


def create_app(
    settings: Settings,
    *,
    notifier: Notifier | None = None,
    implementations: Implementations | None = None,
    rest_routers: Sequence[APIRouter] | None = None,
) -> App:
    """REST and Socket.IO on one port and login cookie.

    `notifier` makes a REST-only app: no Socket.IO is mounted and the domain layer tells
    that notifier (tests record what REST asks of the sockets). `implementations` swaps
    parts of the real-time side (the conformance self-tests). `rest_routers` replaces the
    REST routers; the app refuses to start unless they serve exactly spec/openapi.yaml's
    operations (service.api.routes).
    """
    parts = build_parts(settings)
    realtime: Realtime | None = None
    if notifier is None:
        realtime = Realtime(parts, implementations)
        chat, guarded = realtime.chat, realtime.notifier
    else:
        guarded = Guarded(notifier)
        chat = Chat(
            ChatParts(parts.sessionmaker, guarded, parts.message_rate, parts.message_writer)
        )

    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        async with running(parts) as stack:
            context.engine = parts.engine
            stack.callback(setattr, context, "engine", None)
            if realtime is not None:
                await realtime.start()
                stack.push_async_callback(realtime.stop)
            yield

    bundled = bundle_openapi()
    api = FastAPI(
        title="Zizany REST API",
        version=VERSION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    context = ApiContext(parts, chat=chat, notifier=guarded)
    api.state.api = context
    install_error_handlers(api)
    install_spec(api, bundled)
    install_web_client(api)
    api.include_router(docs.router)
    api.include_router(front.router)
    for router in rest_routers if rest_routers is not None else routers():
        api.include_router(router)
    check_routes(api, bundled)
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
    asgi: ASGIApp = api if realtime is None else realtime.asgi(api)
    observed = observe(api, asgi, settings, realtime)  # request ids, metrics, socket logs
    # Outermost: the transport guards (service.transport.guards) see every request first.
    return App(guards.guarded(observed, settings), api=api, parts=parts, realtime=realtime)
