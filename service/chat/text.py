"""Validation the schemas cannot express: text that is more than white space."""

from __future__ import annotations

from service.errors import ValidationFailed


def trimmed(value: str, field: str) -> str:
    """`value` without surrounding white space; E_VALIDATION when nothing is left.

    The spec's `\\S` is checked by the schema validators' regex engines, which do not count
    every character Python's `str.strip` removes (e.g. U+001C) as white space. The error's
    `loc` names the field; REST puts it under `body` (service.api.errors).
    """
    result = value.strip()
    if not result:
        raise ValidationFailed(
            f"{field} must contain a character that is not white space",
            details=[{"loc": [field], "msg": "only white space", "type": "value_error"}],
        )
    return result
