"""The REST routes must be spec/openapi.yaml's operations: checked when the app is built.

Each operation of the contract (operationId, method, path) has exactly one route, and
every route in the schema is one of them; otherwise the app refuses to start, as the
generated socket router refuses an operation without a handler.
"""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

Operation = tuple[str, str, str]  # (operationId, METHOD, path)

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class RoutesDisagreeWithSpec(RuntimeError):
    """The app's REST routes and spec/openapi.yaml's operations differ."""


def spec_operations(openapi: dict[str, Any]) -> set[Operation]:
    """Every operation of an OpenAPI document."""
    return {
        (operation["operationId"], method.upper(), path)
        for path, item in openapi.get("paths", {}).items()
        for method, operation in item.items()
        if method in _METHODS and isinstance(operation, dict)
    }


def app_operations(app: FastAPI) -> set[Operation]:
    """Every operation of the app's own schema: its routes, as FastAPI documents them.

    FastAPI warns about a duplicate operationId; here that is one more mismatch to report.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    return spec_operations(schema)


def check_routes(app: FastAPI, openapi: dict[str, Any]) -> None:
    """Raise `RoutesDisagreeWithSpec` naming the missing and the extra operations."""
    wanted, served = spec_operations(openapi), app_operations(app)
    if wanted == served:
        return
    missing = "".join(
        f"\n  missing: {op} {method} {path}" for op, method, path in sorted(wanted - served)
    )
    extra = "".join(
        f"\n  extra:   {op} {method} {path}" for op, method, path in sorted(served - wanted)
    )
    raise RoutesDisagreeWithSpec(f"the REST routes do not match spec/openapi.yaml:{missing}{extra}")
