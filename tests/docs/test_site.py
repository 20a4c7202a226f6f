"""`nox -s docs`: the static site for client teams is built with every file, the AsyncAPI page
shows every operation of the spec, and the served page is what a fresh build renders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from service.api.spec import bundle_openapi
from tests.docs.conftest import Page, contract, missing_operations
from tests.support.node import need_node
from tests.support.paths import ROOT, SPEC

BUILD = ROOT / "tools" / "build_docs.py"
SERVED_PAGE = ROOT / "service" / "static" / "asyncapi.html"
SITE_FILES = (
    "index.html",
    "asyncapi/index.html",
    "rest/index.html",
    "rest/openapi.json",
    "asyncapi.yaml",
    "openapi.yaml",
    "common.yaml",
    "zizany-events.d.ts",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build of the site (and of the served page) into a temporary folder."""
    need_node("@asyncapi/generator", "@asyncapi/html-template", "swagger-ui-dist")
    out = tmp_path_factory.mktemp("docs")
    done = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(out / "site"), "--served", str(out / "page")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


pytestmark = [pytest.mark.node, pytest.mark.timeout(400)]


def test_docs_build_writes_every_file_of_the_site(site: Path) -> None:
    for name in SITE_FILES:
        assert (site / "site" / name).is_file(), name
    for name in ("asyncapi.yaml", "openapi.yaml", "common.yaml"):
        assert (site / "site" / name).read_bytes() == (SPEC / name).read_bytes()
    dts = ROOT / "generated" / "typescript" / "zizany-events.d.ts"
    assert (site / "site" / "zizany-events.d.ts").read_bytes() == dts.read_bytes()


def test_rendered_asyncapi_page_shows_every_operation_of_the_spec(site: Path) -> None:
    page = Page((site / "site" / "asyncapi" / "index.html").read_text(encoding="utf-8"))
    assert missing_operations(page, contract()) == []
    assert not [url for url in page.loads if "://" in url or url.startswith("//")]


def test_served_asyncapi_page_is_what_a_fresh_build_renders(site: Path) -> None:
    fresh = (site / "page").read_bytes()
    assert fresh == (site / "site" / "asyncapi" / "index.html").read_bytes()
    assert fresh == SERVED_PAGE.read_bytes(), (
        "service/static/asyncapi.html is not current: run `nox -s docs` and commit it"
    )


def test_rest_page_uses_only_its_own_assets_and_the_bundled_spec(site: Path) -> None:
    rest = site / "site" / "rest"
    page = Page((rest / "index.html").read_text(encoding="utf-8"))
    assert page.loads
    for url in page.loads:
        assert "://" not in url and not url.startswith("/"), url
        assert (rest / url).is_file(), url
    assert json.loads((rest / "openapi.json").read_text(encoding="utf-8")) == bundle_openapi(SPEC)


def test_index_page_links_every_part_and_names_the_contract_version(site: Path) -> None:
    page = Page((site / "site" / "index.html").read_text(encoding="utf-8"))
    version = yaml.safe_load((SPEC / "asyncapi.yaml").read_text(encoding="utf-8"))["info"][
        "version"
    ]
    assert page.meta["zizany:contract-version"] == version
    assert f"Zizany contract {version}" in page.visible
    links = set(page.links)
    for name in SITE_FILES[1:]:
        assert name in links, name
