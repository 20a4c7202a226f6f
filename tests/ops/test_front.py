"""`/`: the landing page a newcomer sees, with no asset from another host."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from service.app import create_app
from service.settings import Settings
from tests.support.live import serve


def test_the_landing_page_links_the_client_the_docs_and_the_specs(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, secret_key="front-test-" + "k" * 40))
    with serve(app) as live, httpx.Client(base_url=live.url) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        links = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page.text)
        for expected in ("/app", "/docs", "/docs/asyncapi", "/openapi.yaml", "/asyncapi.yaml"):
            assert expected in links, expected
        assert "/common.yaml" in links
        for link in links:
            assert link.startswith("/") and not link.startswith("//"), link
            if link != "/app":  # the web client is served by its own module, when present
                assert client.get(link).status_code == 200, link
        assert "<script" not in page.text
        assert not re.search(r"url\(|@import", page.text)
