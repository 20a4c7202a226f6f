"""`/`: a landing page for someone who opens the server in a browser; `/metrics`."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from service import metrics
from service.api.deps import ApiDep
from service.errors import NotFound, Unauthorized

router = APIRouter(include_in_schema=False)

_LINKS = (
    ("/app", "The web client", "sign up, join servers, chat (the reference client)"),
    ("/docs", "REST API", "every endpoint in Swagger UI (/openapi.json bundled)"),
    ("/docs/asyncapi", "Socket.IO events", "the real-time contract, rendered from AsyncAPI"),
    ("/openapi.yaml", "openapi.yaml", "the REST contract, as committed"),
    ("/asyncapi.yaml", "asyncapi.yaml", "the socket contract, as committed"),
    ("/common.yaml", "common.yaml", "the schemas both specs share"),
    ("/docs/zizany-events.d.ts", "TypeScript types", "for socket.io-client"),
    ("/api/health", "Health", "whether the database (and Redis) answer"),
)

LANDING_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
    "<meta name='viewport' content='width=device-width, initial-scale=1'>"
    "<title>Zizany</title><style>"
    "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}"
    "li{margin:.4rem 0}code{background:#f3f3f3;padding:0 .2rem}</style></head><body>"
    "<h1>Zizany</h1><p>A spec-first real-time chat back end: REST under <code>/api</code>, "
    "Socket.IO under <code>/socket.io</code>, one session cookie.</p><ul>"
    + "".join(f"<li><a href='{href}'>{title}</a> — {what}</li>" for href, title, what in _LINKS)
    + "</ul></body></html>"
)


@router.get("/")
async def landing() -> HTMLResponse:
    """Where to go from here: the client, the docs, the specs, health."""
    return HTMLResponse(LANDING_PAGE)


@router.get("/metrics")
async def scrape(request: Request, context: ApiDep) -> Response:
    """Prometheus exposition; 404 unless ZIZANY_METRICS=true, 401 without the token if set."""
    settings = context.settings
    if not settings.metrics:
        raise NotFound("metrics are off (ZIZANY_METRICS=true turns them on)")
    token = settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("metrics need 'Authorization: Bearer <ZIZANY_METRICS_TOKEN>'")
    sync = getattr(request.app.state, "sync_metrics", None)
    if callable(sync):
        sync()
    body, content_type = metrics.scrape()
    return Response(body, media_type=content_type)
