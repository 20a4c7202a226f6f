"""Logging: text (the default) or one JSON object per line, with the request and socket context.

`ZIZANY_LOG_FORMAT=json` writes one object per line: `time` (UTC, ISO 8601), `level`,
`logger`, `message`, and where they apply `request_id`, `socket_id`, `user_id`, `event`,
`instance` (a worker's identity) and `exception` (the traceback). The context comes from
contextvars: `RequestIdMiddleware` sets the request id of every HTTP request and WebSocket
(and answers it in `X-Request-Id`); `socket_context` sets the socket's, around each
Socket.IO event. uvicorn's own loggers (`uvicorn.error`, `uvicorn.access`) go through the
same handler, so the access log carries the request id too.

What is never logged at INFO: cookies, passwords, message contents. The access log drops
the query string (Engine.IO's polling `sid` in it is a credential for that connection).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import secrets
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["text", "json"]

REQUEST_ID_HEADER = "x-request-id"
# An incoming id is kept when it is short and plain (a proxy's or a client's); else a new one.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
socket_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("socket_id", default=None)
user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
event: contextvars.ContextVar[str | None] = contextvars.ContextVar("event", default=None)

_CONTEXT = (("request_id", request_id), ("socket_id", socket_id), ("user_id", user_id))
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def socket_context(sid: str, user: int | None, name: str | None) -> Iterator[None]:
    """Log lines inside the block name the socket, its user and the event it handles."""
    tokens = (socket_id.set(sid), user_id.set(user), event.set(name))
    try:
        yield
    finally:
        event.reset(tokens[2])
        user_id.reset(tokens[1])
        socket_id.reset(tokens[0])


def context_fields() -> dict[str, Any]:
    """The request and socket context that is set here (only the fields that are)."""
    fields: dict[str, Any] = {
        name: value for name, var in _CONTEXT if (value := var.get()) is not None
    }
    name = event.get()
    if name is not None:
        fields["event"] = name
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, instance: str | None = None) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        """The record as `{"time", "level", "logger", "message", ...context}`."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(context_fields())
        if self.instance is not None:
            entry["instance"] = self.instance
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        # default=str: a stray object in a message's arguments must not lose the line.
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """The plain format, with the context appended as `key=value` when there is one."""

    def __init__(self, instance: str | None = None) -> None:
        fmt = (
            TEXT_FORMAT
            if instance is None
            else TEXT_FORMAT.replace("%(name)s", f"[{instance}] %(name)s")
        )
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        """`time LEVEL logger: message [request_id=… socket_id=…]`."""
        line = super().format(record)
        fields = context_fields()
        if not fields:
            return line
        head, sep, tail = line.partition("\n")  # the context goes on the first line
        context = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} [{context}]{sep}{tail}"


class AccessLogFilter(logging.Filter):
    """uvicorn's access line without the query string (it may carry a polling `sid`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Strip the query from the path argument; never drops a record."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def configure_logging(
    level: str, log_format: LogFormat, *, instance: str | None = None
) -> logging.Handler:
    """One stderr handler on the root logger; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(instance) if log_format == "json" else TextFormatter(instance)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(level)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogFilter) for f in access.filters):
        access.addFilter(AccessLogFilter())
    return handler


def new_request_id() -> str:
    """A fresh request id (16 hex digits)."""
    return secrets.token_hex(8)


def incoming_request_id(scope: Scope) -> str:
    """The client's `X-Request-Id` when it is sane, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return new_request_id()


class RequestIdMiddleware:
    """Every HTTP request and WebSocket gets a request id: logged, and answered in a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope)
        token = request_id.set(rid)
        header = (REQUEST_ID_HEADER.encode(), rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start" or message["type"] == "websocket.accept":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
