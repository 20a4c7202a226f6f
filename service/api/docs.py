"""The client-facing docs that `service.api.spec` does not already serve, offline.

`service.api.spec` answers `/docs` (Swagger UI), `/openapi.yaml`, `/asyncapi.yaml`,
`/common.yaml` and `/openapi.json`. This router adds:

- `/docs/asyncapi`: the socket events, as the official AsyncAPI HTML template renders
  `spec/asyncapi.yaml` (one self-contained page, no CDN). Rendering needs Node.js and
  takes ~15 s, so it is done ahead of time by `nox -s docs` into
  `service/static/asyncapi.html` (committed, shipped in the wheel); the page records the
  sha256 of the spec files it was rendered from and a test fails when they differ.
- `/docs/zizany-events.d.ts`: the generated TypeScript declarations for socket.io-client.

Both are package data, found through `importlib.resources` (a checkout and a wheel alike).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse

from service.contract import package_dir
from service.errors import NotFound

ASYNCAPI_PAGE = package_dir("service") / "static" / "asyncapi.html"
TS_DECLARATIONS = package_dir("generated") / "typescript" / "zizany-events.d.ts"

router = APIRouter(include_in_schema=False)


def _file(path: Path, media_type: str) -> FileResponse:
    if not path.is_file():
        raise NotFound(f"no docs file {path.name!r} in this installation")
    return FileResponse(path, media_type=media_type)


@router.get("/docs/asyncapi")
async def asyncapi_docs() -> FileResponse:
    """The AsyncAPI documentation page of the socket events."""
    return _file(ASYNCAPI_PAGE, "text/html; charset=utf-8")


@router.get("/docs/zizany-events.d.ts")
async def typescript_declarations() -> FileResponse:
    """`ServerToClientEvents`, `ClientToServerEvents` and every payload type, for TypeScript."""
    return _file(TS_DECLARATIONS, "text/plain; charset=utf-8")
