"""Fixtures of the docs and client tests: the live Socket.IO world of tests/realtime, and
helpers to read the contract and the rendered pages."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from codegen.asyncapi import Contract, read_contract
from tests.support.paths import SPEC

# The live server and its seeded world, shared with tests/realtime (imported = registered).
from tests.support.seeded import live_world, settings, world

__all__ = ["live_world", "settings", "world"]


def contract() -> Contract:
    """The AsyncAPI contract as the generator reads it."""
    return read_contract(SPEC / "asyncapi.yaml")


class Page(HTMLParser):
    """An HTML page's element ids, visible text, links, meta tags and the URLs it loads."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.loads: list[str] = []
        self.links: list[str] = []
        self.meta: dict[str, str] = {}
        self._skip = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values: dict[str, Any] = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag in ("script", "style"):
            self._skip += 1
        if tag in ("script", "img", "iframe") and values.get("src"):
            self.loads.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.loads.append(str(values["href"]))
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if tag == "meta" and values.get("name"):
            self.meta[str(values["name"])] = str(values.get("content") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)

    @property
    def visible(self) -> str:
        """The page's text outside scripts and styles."""
        return " ".join(self.text)


def missing_operations(page: Page, spec: Contract) -> list[str]:
    """Operations of the spec the rendered AsyncAPI page does not show (id and event name)."""
    missing = []
    for op in spec.operations:
        shown = any(i.startswith("operation-") and i.endswith(f"-{op.op_id}") for i in page.ids)
        if not shown or op.event not in page.visible:
            missing.append(f"{op.op_id} ({op.event})")
    return missing
