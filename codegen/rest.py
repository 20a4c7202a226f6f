"""Render `generated/rest/` from the OpenAPI contract: request/response models and operation ids."""

from __future__ import annotations

import pprint
from pathlib import Path

from codegen.loader import load_yaml
from codegen.models import bundle_schemas, render_models

METHODS = ("get", "put", "post", "patch", "delete")


def render_operations(spec_path: Path) -> str:
    """A table of the spec's operations: operationId → (method, path, tag)."""
    doc = load_yaml(spec_path)
    table: dict[str, tuple[str, str, str]] = {}
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                table[op["operationId"]] = (method.upper(), path, op["tags"][0])
    body = pprint.pformat(table, indent=1, width=100, sort_dicts=False)
    return "\n".join(
        [
            '"""Every operation of the REST contract: operationId → (method, path, tag)."""',
            "",
            f"OPERATIONS: dict[str, tuple[str, str, str]] = {body}",
            "",
            f'VERSION = "{doc["info"]["version"]}"',
            "",
        ]
    )


def render_rest(spec_path: Path) -> dict[str, str]:
    """Every file of `generated/rest/` (relative path → text, without headers)."""
    doc = load_yaml(spec_path)
    bundle = bundle_schemas(spec_path, doc["components"]["schemas"])
    title = doc["info"]["title"]
    return {
        "rest/__init__.py": f'"""Generated from the OpenAPI contract "{title}"."""\n',
        "rest/models.py": render_models(bundle),
        "rest/operations.py": render_operations(spec_path),
    }
