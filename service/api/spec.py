"""The committed contract served by the app: the YAML files as they are, the OpenAPI
document bundled into one JSON object for tools, and Swagger UI at `/docs` (offline).
"""

from __future__ import annotations

import html
import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response

from service.contract import SPEC_FILES, spec_dir
from service.errors import NotFound

# The checkout's spec/, or the copies a wheel ships in service/contract/ (same bytes).
SPEC_DIR = spec_dir()

_COMMON_REF = "./common.yaml#/$defs/"
_LOCAL_DEF_REF = "#/$defs/"
_SCHEMA_REF = "#/components/schemas/"

# Swagger UI 5 (OpenAPI 3.1) assets shipped in the `fastapi-offline` wheel, when installed.
_SWAGGER_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")


def _rewrite_refs(node: Any, prefix: str) -> Any:
    """A copy of `node` whose `$ref`s starting with `prefix` point into components/schemas."""
    if isinstance(node, dict):
        return {
            key: (
                _SCHEMA_REF + value.removeprefix(prefix)
                if key == "$ref" and isinstance(value, str) and value.startswith(prefix)
                else _rewrite_refs(value, prefix)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, prefix) for item in node]
    return node


def bundle_openapi(spec_dir: Path = SPEC_DIR) -> dict[str, Any]:
    """openapi.yaml with common.yaml's definitions inlined as components (one document)."""
    openapi = yaml.safe_load((spec_dir / "openapi.yaml").read_text(encoding="utf-8"))
    common = yaml.safe_load((spec_dir / "common.yaml").read_text(encoding="utf-8"))
    bundled: dict[str, Any] = _rewrite_refs(openapi, _COMMON_REF)
    schemas = bundled.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in common["$defs"].items():
        if name in schemas:
            raise ValueError(f"common.yaml schema {name!r} clashes with an openapi.yaml schema")
        schemas[name] = _rewrite_refs(schema, _LOCAL_DEF_REF)
    return bundled


@cache
def _swagger_dir() -> Path | None:
    """Where the offline Swagger UI assets are, or None when the package is missing."""
    found = importlib.util.find_spec("fastapi_offline")
    if found is None or found.origin is None:
        return None
    static = Path(found.origin).parent / "static"
    return static if all((static / name).is_file() for name in _SWAGGER_ASSETS) else None


def install_spec(app: FastAPI, bundled: dict[str, Any]) -> None:
    """Serve the contract files, the bundled OpenAPI document (`bundle_openapi`) and docs."""
    app.openapi = lambda: bundled  # type: ignore[method-assign]
    app.include_router(_spec_router(bundled))


def _spec_router(bundled: dict[str, Any]) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    files = {name: (SPEC_DIR / name).read_bytes() for name in SPEC_FILES}

    def serve(name: str) -> None:
        content = files[name]

        async def spec_file() -> Response:
            return Response(content, media_type="application/yaml")

        router.add_api_route(f"/{name}", spec_file, methods=["GET"], name=name)

    for name in SPEC_FILES:
        serve(name)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        """Swagger UI over /openapi.json (offline), or a plain list of operations."""
        assets = _swagger_dir()
        if assets is None:
            return HTMLResponse(_plain_docs(bundled))
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{bundled['info']['title']} - Swagger UI",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
            swagger_ui_parameters={"withCredentials": True},
        )

    @router.get("/docs/assets/{name}")
    async def docs_asset(name: str) -> FileResponse:
        """The Swagger UI bundle, stylesheet and icon."""
        assets = _swagger_dir()
        if assets is None or name not in _SWAGGER_ASSETS:
            raise NotFound(f"no docs asset {name!r}")
        return FileResponse(assets / name)

    return router


def _plain_docs(bundled: dict[str, Any]) -> str:
    """A minimal offline docs page: every operation with its summary, and the spec links."""
    rows = []
    for path, item in bundled["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(operation['operationId'])}</td>"
                f"<td>{html.escape(operation.get('summary', ''))}</td></tr>"
            )
    title = html.escape(bundled["info"]["title"])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>The contract: <a href='/openapi.yaml'>openapi.yaml</a>, "
        "<a href='/asyncapi.yaml'>asyncapi.yaml</a>, <a href='/common.yaml'>common.yaml</a>, "
        "<a href='/openapi.json'>openapi.json</a> (bundled).</p>"
        "<table><tr><th>Method</th><th>Path</th><th>operationId</th><th>Summary</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
