"""The reference web client at /app, in headless Chromium against the whole live app: two
users in two browser contexts, history pages, typing, live messages, edits, deletes and
presence; a foreign origin cannot connect. The page is also checked as served (headers,
offline assets, the vendored socket.io-client)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp

from service.api.app_page import WEB_CLIENT
from service.app import create_app
from tests.support.deployment import make_settings
from tests.support.live import serve_built, serve_pages
from tests.support.node import need_chromium, need_node, run_node
from tests.support.paths import NODE_MODULES, ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOT = ARTIFACTS / "web-client.png"
VENDORED = WEB_CLIENT / "vendor" / "socket.io.esm.min.js"
HISTORY = 60  # more than one page (the client asks for 50)
PASSWORD = "correct horse battery"
FOREIGN_PAGE = b"<!doctype html><html><head><title>elsewhere</title></head><body>hi</body></html>"


def seed(base: str) -> dict[str, object]:
    """Ada (signed up over REST) owns a public server whose general channel has history."""
    with httpx.Client(base_url=base, timeout=10) as http:
        ada = {"username": "ada", "email": "ada@example.com", "password": PASSWORD}
        assert http.post("/api/auth/signup", json=ada).status_code == 201
        created = http.post("/api/servers", json={"name": "Rose Garden", "is_public": True})
        assert created.status_code == 201, created.text
        server_id = created.json()["server"]["id"]
        channels = http.get(f"/api/servers/{server_id}/channels").json()["channels"]
        general = next(c["id"] for c in channels if c["name"] == "general")
        for n in range(1, HISTORY + 1):
            body = {"content": f"history {n}"}
            posted = http.post(f"/api/channels/{general}/messages", json=body)
            assert posted.status_code == 201, posted.text
    return {
        "ada": ada,
        "bo": {"username": "bo", "email": "bo@example.com", "password": PASSWORD},
        "server": "Rose Garden",
        "history": HISTORY,
    }


@pytest.mark.node
def test_two_users_chat_in_chromium_and_a_foreign_origin_cannot_connect(tmp_path: Path) -> None:
    need_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)

    def build(origin: str) -> ASGIApp:
        # Only the app's own origin may use the API from a browser.
        return create_app(make_settings(tmp_path, allowed_origins=[origin]))

    vendored = VENDORED.read_bytes()
    pages = {
        "/": (FOREIGN_PAGE, "text/html"),
        "/app/vendor/socket.io.esm.min.js": (vendored, "text/javascript"),
    }
    with serve_built(build) as live, serve_pages(pages) as foreign:
        config = {**seed(live.url), "base": live.url, "foreign": foreign}
        config["screenshot"] = str(SCREENSHOT)
        done = run_node(["tests/web/browser.mjs", json.dumps(config)], timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"screenshot of the conversation: {SCREENSHOT}")

    assert seen["pageErrors"] == []
    newest_page = [f"history {n}" for n in range(HISTORY - 49, HISTORY + 1)]
    assert seen["firstPage"] == newest_page
    assert seen["afterOlder"] == [f"history {n}" for n in range(1, HISTORY + 1)]
    assert seen["olderHidden"] is True  # no page before the first message
    assert "bo" in seen["presence"] and "ada" in seen["presence"]
    assert seen["typing"] == "bo is typing…"
    assert seen["typingAfterSend"] == ""
    assert "Hello Ada, how is the garden?" in seen["edited"]
    assert seen["afterDelete"][-1] == "Blooming! Come and see the roses."
    assert not any("garden?" in text for text in seen["afterDelete"])
    assert seen["editButtonsOnBosMessage"] == 0  # Ada may not edit or delete Bo's message
    assert seen["editButtons"] == HISTORY + 1  # but every one of hers
    assert seen["adaError"] == ""
    assert seen["sameOrigin"] == "connected"
    assert seen["foreignOrigin"].startswith("connect_error"), seen["foreignOrigin"]
    assert seen["foreignRest"].startswith("blocked"), seen["foreignRest"]
    assert SCREENSHOT.stat().st_size > 10_000


def test_the_page_is_served_with_its_assets_and_a_same_origin_policy(tmp_path: Path) -> None:
    built = serve_built(lambda _: create_app(make_settings(tmp_path)))
    with built as live, httpx.Client(base_url=live.url, timeout=10) as http:
        moved = http.get("/app")
        page = http.get("/app/")
        linked = re.findall(r'(?:src|href)="(/app/[^"]+)"', page.text)
        assets = {path: http.get(path) for path in linked}
        module = http.get("/app/vendor/socket.io.esm.min.js")
        missing = http.get("/app/nothing.js")
    assert moved.status_code in (307, 308) and moved.headers["location"].endswith("/app/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert set(assets) == {"/app/app.css", "/app/app.js"}
    assert all(r.status_code == 200 for r in assets.values())
    assert "javascript" in assets["/app/app.js"].headers["content-type"]
    assert module.status_code == 200 and module.content == VENDORED.read_bytes()
    assert missing.status_code == 404


def test_the_page_loads_nothing_from_another_origin_and_never_renders_server_text_as_html() -> None:
    texts = {p.name: p.read_text(encoding="utf-8") for p in WEB_CLIENT.glob("*.*")}
    for name, text in texts.items():
        assert not re.search(r"https?://", text), f"{name} names another origin"
    script = texts["app.js"]
    assert 'from "/app/vendor/socket.io.esm.min.js"' in script
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


@pytest.mark.node
def test_the_vendored_socket_io_client_is_the_locked_npm_package_byte_for_byte() -> None:
    need_node("socket.io-client")
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    locked = lock["packages"]["node_modules/socket.io-client"]["version"]
    notes = (WEB_CLIENT / "vendor" / "README.md").read_text(encoding="utf-8")
    assert f"socket.io-client {locked}" in notes and f"socket.io-client@{locked}" in notes
    assert f"Socket.IO v{locked}" in VENDORED.read_text(encoding="utf-8")[:200]
    package = NODE_MODULES / "socket.io-client"
    assert (package / "dist" / VENDORED.name).read_bytes() == VENDORED.read_bytes()
    licence = (WEB_CLIENT / "vendor" / "socket.io-client.LICENSE").read_bytes()
    assert licence == (package / "LICENSE").read_bytes()


@pytest.mark.parametrize("name", ["index.html", "app.js", "app.css"])
def test_the_web_client_stays_small(name: str) -> None:
    lines = (WEB_CLIENT / name).read_text(encoding="utf-8").count("\n")
    assert lines < 450, f"{name} has {lines} lines: the example must stay readable"
