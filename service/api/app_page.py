"""The reference web client at `/app`: static files shipped in the package, served offline.

`service/static/app/` holds `index.html`, one ES module (`app.js`), one stylesheet and
`vendor/socket.io.esm.min.js`, the official socket.io-client bundle copied from npm (its
version and licence are in `vendor/README.md`), so a wheel install needs no node_modules.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_CLIENT = Path(__file__).resolve().parents[1] / "static" / "app"

# Same origin only: the page loads nothing from elsewhere and talks only to this server
# (REST and the Socket.IO WebSocket); no inline script, no framing by other sites.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class _WebClientFiles(StaticFiles):
    """StaticFiles with the page's security headers on every answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


def install_web_client(app: FastAPI) -> None:
    """Serve the web client at `/app` (`/app` itself redirects to `/app/`)."""
    app.mount("/app", _WebClientFiles(directory=WEB_CLIENT, html=True), name="web-client")
