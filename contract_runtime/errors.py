"""The errors of the contract's runtime: a contract error code, an emit refused as off-spec."""

from __future__ import annotations

from collections.abc import Mapping


class ContractError(Exception):
    """An error the contract names: its `code` picks the error event and the failed ack."""

    code: str = "E_INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra: dict[str, object] = dict(extra or {})


class EmitRejected(Exception):
    """A payload that does not match its schema in the spec; it was not sent."""
