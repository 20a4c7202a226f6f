"""JSON request bodies validated as the contract reads them: strict JSON types.

FastAPI validates body models in pydantic's lax mode, which turns `"is_public": 0` into
`False` and `"max_uses": "5"` into `5`; the spec's types are JSON Schema types, so those
are 422 here. `strict(Model)` in a body parameter's `Annotated` makes the validation
strict while FastAPI still reports every problem (path, query and body) at once.
FastAPI also reads a JSON `null` as "no body": `no_json_null` refuses it where a body
is optional, and `post_with_optional_body` declares such a route with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.types import DecoratedCallable
from pydantic import BaseModel, BeforeValidator


def strict(model: type[BaseModel]) -> BeforeValidator:
    """Validate the body's JSON value against `model` in strict mode (None passes through)."""

    def validate(value: Any) -> Any:
        if value is None or isinstance(value, model):
            return value
        return model.model_validate(_integral_floats_as_ints(value), strict=True)

    return BeforeValidator(validate)


def _integral_floats_as_ints(value: Any) -> Any:
    """JSON Schema's `integer` admits `5.0`; strict pydantic wants `5`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


async def no_json_null(request: Request) -> None:
    """For optional bodies: no body is `{}`, but a JSON `null` is no object (422)."""
    if (await request.body()).strip() == b"null":
        error = {"type": "model_type", "loc": ("body",), "msg": "Input should be an object"}
        raise RequestValidationError([{**error, "input": None}])


def post_with_optional_body(
    router: APIRouter, path: str, *, operation_id: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A creating POST (201) whose body may be left out (read as `{}`) but not be `null`."""
    return router.post(
        path, operation_id=operation_id, status_code=201, dependencies=[Depends(no_json_null)]
    )
