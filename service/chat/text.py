"""Validation the schemas cannot express: text that is more than white space."""

from __future__ import annotations

from service.errors import ValidationFailed
from service.text import trim


def trimmed(value: str, field: str) -> str:
    """`value` without surrounding white space; E_VALIDATION when nothing is left.

    White space is the spec's (service.text): exactly what its pattern excludes, so a value
    the schema accepts is never refused here. The error's `loc` names the field; REST puts
    it under `body` (service.api.errors).
    """
    result = trim(value)
    if not result:
        raise ValidationFailed(
            f"{field} must contain a character that is not white space",
            details=[{"loc": [field], "msg": "only white space", "type": "value_error"}],
        )
    return result
