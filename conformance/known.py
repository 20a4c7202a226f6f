"""Deviations the runner has found and the team has not fixed yet.

A run reports a violation that matches one of these as "known" instead of failing on it,
so the rest of the contract stays guarded while the fix is pending. Each entry has a test
in tests/conformance/test_known.py marked `xfail(strict=True)`: when the fix lands that
test passes, fails as an unexpected pass, and the entry is deleted here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.observer import Violation


@dataclass(frozen=True)
class Known:
    """A deviation: which violations it explains, and what is wrong where."""

    key: str
    kind: str
    pattern: str
    where: str
    explanation: str

    def matches(self, violation: Violation) -> bool:
        """Whether this deviation explains the violation."""
        return (
            violation.kind == self.kind and re.search(self.pattern, violation.message) is not None
        )


KNOWN: tuple[Known, ...] = (
    Known(
        key="list-messages-before-and-after",
        kind="schemathesis",
        pattern=r"^list_messages: .*`before` and `after` are mutually exclusive",
        where="spec/openapi.yaml list_messages",
        explanation=(
            "the document says in prose that `before` and `after` exclude each other, but its "
            "parameters allow both, so schema-valid requests are answered 422. OpenAPI cannot "
            "say this with parameters alone: either accept both (e.g. a window between them) "
            "or state the 422 in a machine-readable way the conformance run can honour "
            "(an `x-` extension on the operation)."
        ),
    ),
    Known(
        key="email-special-use-domains",
        kind="schemathesis",
        pattern=r"^(signup|login): .*special-use or reserved name",
        where="generated/rest/models.py (codegen maps `format: email` to pydantic EmailStr)",
        explanation=(
            "`format: email` accepts addresses at special-use domains (`a@b.test`, "
            "`a@localhost`); pydantic's EmailStr (email-validator) answers them 422. Either "
            "generate a plain format check or say in the Email schema which domains are refused."
        ),
    ),
)


def split(
    violations: Iterable[Violation], known: Iterable[Known] = KNOWN
) -> tuple[list[Violation], dict[str, list[Violation]]]:
    """(unexplained violations, known deviation key → the violations it explains)."""
    entries = list(known)
    unexplained: list[Violation] = []
    explained: dict[str, list[Violation]] = {}
    for violation in violations:
        entry = next((k for k in entries if k.matches(violation)), None)
        if entry is None:
            unexplained.append(violation)
        else:
            explained.setdefault(entry.key, []).append(violation)
    return unexplained, explained
