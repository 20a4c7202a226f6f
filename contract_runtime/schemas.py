"""The spec's payload schemas at run time: compiled validators, and the wire form of a model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import fastjsonschema
import jsonschema
from pydantic import BaseModel

MAX_DETAILS = 20
"""At most this many problems are reported for one invalid payload."""
MAX_TEXT = 1000
"""Texts that go back to a client (messages, problem descriptions) are cut to this length."""


class SchemaRegistry:
    """The spec's payload schemas, each compiled once on first use."""

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self._schemas = schemas
        self._compiled: dict[str, Callable[[Any], Any]] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._schemas

    def schema(self, key: str) -> Mapping[str, Any]:
        """The JSON Schema of message `key` (an event name or `ack:<message>`)."""
        return self._schemas[key]

    def compile_all(self) -> None:
        """Compile every validator now (at start-up rather than on the first event)."""
        for key in self._schemas:
            self._validator(key)

    def _validator(self, key: str) -> Callable[[Any], Any]:
        validator = self._compiled.get(key)
        if validator is None:
            validator = fastjsonschema.compile(dict(self._schemas[key]))
            self._compiled[key] = validator
        return validator

    def problems(self, key: str, data: Any) -> list[dict[str, Any]]:
        """Every way `data` breaks schema `key` (empty when valid)."""
        try:
            self._validator(key)(data)
        except fastjsonschema.JsonSchemaException:
            pass
        else:
            return []
        # Slow path, only for invalid data: report every problem, not just the first.
        checker = jsonschema.Draft7Validator(self._schemas[key])
        found = sorted(checker.iter_errors(data), key=lambda e: list(map(str, e.path)))
        details = [
            {"loc": list(err.absolute_path), "msg": err.message[:MAX_TEXT]}
            for err in found[:MAX_DETAILS]
        ]
        return details or [{"loc": [], "msg": "does not match the schema"}]


def dump(payload: BaseModel) -> dict[str, Any]:
    """The wire form of a payload model: field names as in the spec, unset optionals left out."""
    return payload.model_dump(mode="json", by_alias=True, exclude_unset=True)
