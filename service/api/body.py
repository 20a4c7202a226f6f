"""JSON request bodies validated as the contract reads them: strict JSON types.

FastAPI validates body models in pydantic's lax mode, which turns `"is_public": 0` into
`False` and `"max_uses": "5"` into `5`; the spec's types are JSON Schema types, so those
are 422 here. `strict(Model)` in a body parameter's `Annotated` makes the validation
strict while FastAPI still reports every problem (path, query and body) at once.
FastAPI also reads a JSON `null` as "no body": `no_json_null` refuses it where a body
is optional.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator

from service.errors import ValidationFailed
from service.text import trim


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


def trimmed(value: str, field: str) -> str:
    """`value` without surrounding white space (the spec's: `service.text`); 422 when
    nothing is left (which the spec's pattern already refuses)."""
    result = trim(value)
    if not result:
        raise ValidationFailed(
            f"{field} must contain a character that is not white space",
            details=[{"loc": ["body", field], "msg": "only white space", "type": "value_error"}],
        )
    return result
