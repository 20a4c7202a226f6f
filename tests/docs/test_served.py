"""What the running server serves to client teams: the committed specs byte for byte, and
the docs pages, offline (nothing loaded from another host)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from service.api import docs
from service.app import create_app
from service.settings import Settings
from tests.docs.conftest import Page, contract, missing_operations
from tests.support.paths import ROOT, SPEC

pytestmark = pytest.mark.anyio

SERVED_PAGE = ROOT / "service" / "static" / "asyncapi.html"
DTS = ROOT / "generated" / "typescript" / "zizany-events.d.ts"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app (create_app) over ASGI; the docs routes need no database."""
    app = create_app(Settings(data_dir=tmp_path, secret_key="docs-test-" + "k" * 40))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize("name", ["asyncapi.yaml", "openapi.yaml", "common.yaml"])
async def test_served_spec_is_byte_identical_to_the_committed_file(
    http: httpx.AsyncClient, name: str
) -> None:
    response = await http.get(f"/{name}")
    assert response.status_code == 200
    assert response.content == (SPEC / name).read_bytes()
    assert "yaml" in response.headers["content-type"]


async def test_docs_page_loads_nothing_from_another_host(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs")
    assert response.status_code == 200
    page = Page(response.text)
    for url in page.loads:
        assert url.startswith("/"), f"/docs loads {url!r} from another host"
        assert (await http.get(url)).status_code == 200, url


async def test_asyncapi_docs_page_is_the_committed_rendering(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs/asyncapi")
    assert response.status_code == 200, (
        "/docs/asyncapi is not served: create_app must include service.api.docs.router"
    )
    assert response.headers["content-type"].startswith("text/html")
    assert response.content == SERVED_PAGE.read_bytes()


async def test_typescript_declarations_are_served_as_generated(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs/zizany-events.d.ts")
    assert response.status_code == 200, (
        "/docs/zizany-events.d.ts is not served: create_app must include service.api.docs.router"
    )
    assert response.content == DTS.read_bytes()


async def test_docs_router_serves_its_files_on_a_bare_app() -> None:
    app = FastAPI()
    app.include_router(docs.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/docs/asyncapi")
        declarations = await client.get("/docs/zizany-events.d.ts")
    assert page.content == SERVED_PAGE.read_bytes()
    assert declarations.content == DTS.read_bytes()
    assert not app.openapi()["paths"], "docs routes must stay out of the OpenAPI document"


def test_committed_asyncapi_page_was_rendered_from_the_committed_spec() -> None:
    page = Page(SERVED_PAGE.read_text(encoding="utf-8"))
    for name in ("asyncapi.yaml", "common.yaml"):
        digest = hashlib.sha256((SPEC / name).read_bytes()).hexdigest()
        assert page.meta.get(f"zizany:{name}-sha256") == digest, (
            f"service/static/asyncapi.html was rendered from another {name}: run `nox -s docs`"
        )


def test_committed_asyncapi_page_shows_every_operation_of_the_spec() -> None:
    page = Page(SERVED_PAGE.read_text(encoding="utf-8"))
    assert missing_operations(page, contract()) == []


def test_committed_asyncapi_page_loads_nothing_from_another_host() -> None:
    page = Page(SERVED_PAGE.read_text(encoding="utf-8"))
    external = [url for url in page.loads if "://" in url or url.startswith("//")]
    assert external == []
