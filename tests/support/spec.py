"""Reads the contract the tests check against: spec/asyncapi.yaml and the seed socket-spec.md."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from codegen.loader import deref, load_yaml
from tests.support.paths import ROOT, SPEC

ASYNCAPI = SPEC / "asyncapi.yaml"
SEED_COPY = SPEC / "seed" / "socket-spec.md"
SHARED_SEED = ROOT.parent / "shared" / "contract" / "socket-spec.md"


@dataclass(frozen=True)
class SeedEvent:
    """One event of socket-spec.md: its name, its section (5 client, 6 server, 7 error), example."""

    name: str
    section: int
    example: dict[str, Any]


def seed_events(text: str | None = None) -> list[SeedEvent]:
    """Every `### N.M \\`event\\`` heading of socket-spec.md with the JSON example under it."""
    text = text if text is not None else SEED_COPY.read_text(encoding="utf-8")
    pattern = re.compile(
        r"^### (\d+)\.\d+ `([a-z_]+:[a-z_]+)`\s*$(.*?)```json\s*(.*?)```", re.M | re.S
    )
    return [
        SeedEvent(name=m.group(2), section=int(m.group(1)), example=json.loads(m.group(4)))
        for m in pattern.finditer(text)
    ]


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI document as written (refs not resolved)."""
    return dict(load_yaml(ASYNCAPI))


def message_schemas() -> dict[str, tuple[str, dict[str, Any]]]:
    """Event name → (operation action, dereferenced payload schema), from the operations."""
    doc = asyncapi()
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for op in doc["operations"].values():
        msg = deref(op["messages"][0], ASYNCAPI)
        out[msg["name"]] = (op["action"], msg["payload"])
    return out
