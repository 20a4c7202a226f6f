"""The mock's REST side: each path of `spec/openapi.yaml` answers its success example.

An operation that needs a session answers the spec's `401` example when the request has
no `connect.sid` cookie (any value is accepted); a path the spec does not have answers
`404 E_NOT_FOUND`, a known path with another method `405 E_METHOD_NOT_ALLOWED`, both
with the real server's error body.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from service.mock.contract import RestOperation

SESSION_COOKIE = "connect.sid"
UNAUTHORIZED = {"code": "E_UNAUTHORIZED", "message": "sign in first"}


class MockRest:
    """An ASGI app answering every REST operation of the spec with its example."""

    def __init__(self, operations: Sequence[RestOperation]) -> None:
        self.operations = tuple(operations)
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = self.answer(Request(scope, receive))
        await response(scope, receive, send)

    def answer(self, request: Request) -> Response:
        """The example answer of the operation `request` names (or a 401/404/405 body)."""
        path = request.url.path
        matching = [op for op in self.operations if op.pattern.match(path)]
        if not matching:
            return _error(404, "E_NOT_FOUND", f"no route {path!r}")
        op = next((op for op in matching if op.method == request.method), None)
        if op is None:
            allow = ", ".join(sorted({o.method for o in matching}))
            return _error(
                405,
                "E_METHOD_NOT_ALLOWED",
                f"{request.method} is not allowed on {path!r}",
                headers={"Allow": allow},
            )
        if op.needs_session and not request.cookies.get(SESSION_COOKIE):
            return JSONResponse(op.unauthorized or UNAUTHORIZED, status_code=401)
        self.answered += 1
        headers = {"X-Zizany-Mock": op.operation_id}
        if op.body is None:
            response: Response = Response(status_code=op.status, headers=headers)
        else:
            response = JSONResponse(op.body, status_code=op.status, headers=headers)
        for name, value in op.headers:
            response.headers.append(name, value)
        return response


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
