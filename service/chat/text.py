"""Validation the schemas cannot express: text that is more than white space."""

from __future__ import annotations

from service.errors import ValidationFailed
from service.text import acceptable, trim


def trimmed(value: str, field: str) -> str:
    """`value` without surrounding white space; E_VALIDATION when nothing is left.

    White space is the spec's (service.text): exactly what its pattern excludes, so a value
    the schema accepts is never refused here. The error's `loc` names the field; REST puts
    it under `body` (service.api.errors).
    """
    if not acceptable(value) and trim(value):
        # Not blank, yet refused by the spec's pattern: it holds U+0000.
        raise ValidationFailed(
            f"{field} must not contain U+0000",
            details=[{"loc": [field], "msg": "contains U+0000", "type": "value_error"}],
        )
    result = trim(value)
    if not result:
        raise ValidationFailed(
            f"{field} must contain a character that is not white space",
            details=[{"loc": [field], "msg": "only white space", "type": "value_error"}],
        )
    return result
