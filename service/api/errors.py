"""One error body everywhere: `{"code", "message"}` (+ `details` on 422), never HTML.

Domain errors, FastAPI's request validation, Starlette's own 404/405, oversized bodies
and unexpected exceptions all answer with the contract's `Error` object. An unexpected
exception is `500 E_INTERNAL`, except when the database cannot be reached: then
`503 E_INTERNAL` with `Retry-After` (the request itself was fine).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; only its exception classes are used
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api import routers
from service.errors import DomainError
from service.transport.guards import declared_length

logger = logging.getLogger(__name__)

# Codes for the HTTP errors the framework raises by itself (not through DomainError).
_HTTP_CODES = {
    401: "E_UNAUTHORIZED",
    403: "E_FORBIDDEN",
    404: "E_NOT_FOUND",
    405: "E_METHOD_NOT_ALLOWED",
    413: "E_PAYLOAD_TOO_LARGE",
}


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: Sequence[Mapping[str, object]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The contract's error body as a JSON response."""
    body: dict[str, object] = {"code": code, "message": message}
    if details is not None:
        body["details"] = [dict(item) for item in details]
    return JSONResponse(body, status_code=status_code, headers=dict(headers or {}))


def _detail(error: Mapping[str, Any]) -> dict[str, object]:
    """One pydantic/FastAPI validation error as an ErrorDetail (loc, msg, type only)."""
    loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
    return {
        "loc": loc or ["body"],
        "msg": str(error.get("msg", "invalid value")),
        "type": str(error.get("type", "value_error")),
    }


async def _domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    details = exc.details
    if exc.http_status == 422 and not details:
        details = [{"loc": ["body"], "msg": exc.message, "type": "value_error"}]
    elif details is not None:
        details = [_located(detail) for detail in details]
    return error_response(
        exc.http_status, exc.code, exc.message, details=details, headers=exc.headers
    )


_WHERE = ("body", "query", "path", "header", "cookie")


def _located(detail: dict[str, object]) -> dict[str, object]:
    """A domain error names the field (`["content"]`); REST says it is in the body."""
    loc = detail.get("loc")
    if isinstance(loc, list) and (not loc or loc[0] not in _WHERE):
        return {**detail, "loc": ["body", *loc]}
    return detail


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [_detail(error) for error in exc.errors()] or [
        {"loc": ["body"], "msg": "invalid request", "type": "value_error"}
    ]
    return error_response(422, "E_VALIDATION", "invalid request", details=details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return error_response(404, "E_NOT_FOUND", f"no route {request.url.path!r}", headers=headers)
    if exc.status_code == 405:
        message = f"method {request.method!r} not allowed on {request.url.path!r}"
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
        return error_response(405, "E_METHOD_NOT_ALLOWED", message, headers=headers)
    if exc.status_code == 400:
        # The body could not be read as the operation's JSON: the contract says 422.
        detail = {"loc": ["body"], "msg": str(exc.detail), "type": "body_unreadable"}
        return error_response(422, "E_VALIDATION", "invalid request", details=[detail])
    code = _HTTP_CODES.get(exc.status_code, "E_INTERNAL")
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method an API route serves on this path (Starlette names only one route's)."""
    methods: set[str] = set()
    for router in routers():
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
                methods.update(route.methods or ())
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the app can raise to the contract's error body."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


class ResponseStarted:
    """`send`, noting whether the response has started (after that, no error body can follow)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


class BodyTooLarge(HTTPException):
    """The request body exceeded the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit!r} bytes")


class BodyLimitMiddleware:
    """413 E_PAYLOAD_TOO_LARGE for bodies over `max_bytes`: declared, or counted as streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.max_bytes)
        if declared_length(scope) > self.max_bytes:
            await _payload_too_large(too_large)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        tracked = ResponseStarted(send)
        try:
            await self.app(scope, counting_receive, tracked)
        except BodyTooLarge:
            if tracked.started:
                raise
            await _payload_too_large(too_large)(scope, receive, send)


def _payload_too_large(exc: BodyTooLarge) -> Response:
    # The unread rest of the body is not drained: closing the connection ends it.
    return error_response(
        413, "E_PAYLOAD_TOO_LARGE", str(exc.detail), headers={"Connection": "close"}
    )


class InternalErrorMiddleware:
    """Any unexpected exception: logged with its traceback, answered 500 E_INTERNAL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = ResponseStarted(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            logger.exception(
                "unexpected error answering %s %s", scope.get("method"), scope.get("path")
            )
            if tracked.started:
                raise
            if database_unavailable(exc):
                # Nothing is wrong with the request: it may be retried once the database is back.
                message = "the database is unavailable; try again shortly"
                response = error_response(503, "E_INTERNAL", message, headers={"Retry-After": "5"})
            else:
                response = error_response(500, "E_INTERNAL", "internal error")
            await response(scope, receive, send)


# Failures of the connection to the database, not of the statement: the server is down,
# restarting or unreachable.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, timed out (TimeoutError is an OSError)
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database cannot be reached right now."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        original = getattr(current, "orig", None)
        pending += [current.__cause__, current.__context__]
        if isinstance(original, BaseException):
            pending.append(original)
    return False
