"""What a run exercised: operations, messages and error codes of both specs (and what not)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.rest import RestSpec
from conformance.spec import Contract


@dataclass
class Coverage:
    """Counts per AsyncAPI and OpenAPI operation, message and error code."""

    contract: Contract
    rest: RestSpec | None = None
    sent_valid: Counter[str] = field(default_factory=Counter)
    sent_invalid: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    error_codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    rest_calls: Counter[tuple[str, int]] = field(default_factory=Counter)
    rest_by_schemathesis: Counter[tuple[str, int]] = field(default_factory=Counter)
    acks: int = 0
    checked: int = 0

    # ---- recording --------------------------------------------------------------------------

    def request(self, event: str, *, valid: bool) -> None:
        """A client → server event was sent."""
        (self.sent_valid if valid else self.sent_invalid)[event] += 1

    def outcome(self, event: str, code: str | None) -> None:
        """An ack answered an event (`ok` or its error code)."""
        self.acks += 1
        self.outcomes[(event, code or "ok")] += 1

    def event(self, event: str, code: str | None = None) -> None:
        """A server → client event arrived (and was checked)."""
        self.received[event] += 1
        self.checked += 1
        if code is not None:
            self.error_codes[(event, code)] += 1

    def rest_call(self, op_id: str, status: int, *, schemathesis: bool = False) -> None:
        """A REST operation answered."""
        (self.rest_by_schemathesis if schemathesis else self.rest_calls)[(op_id, status)] += 1

    def merge(self, other: Coverage) -> None:
        """Add another run's counts."""
        for name in (
            "sent_valid",
            "sent_invalid",
            "outcomes",
            "received",
            "error_codes",
            "rest_calls",
            "rest_by_schemathesis",
        ):
            getattr(self, name).update(getattr(other, name))
        self.acks += other.acks
        self.checked += other.checked

    # ---- questions ---------------------------------------------------------------------------

    def codes_seen(self, event: str) -> set[str]:
        """Outcomes seen for one receive operation (`ok` and error codes)."""
        return {code for (ev, code), n in self.outcomes.items() if ev == event and n}

    def unexercised(self, *, allow: Iterable[str] = ()) -> list[str]:
        """Operations of either spec the run never exercised (the run fails on any).

        A receive operation counts when a valid payload was sent and answered `ok` at least
        once; a send operation when its event arrived; a REST operation when it answered.
        `allow` names operations (AsyncAPI operation ids or OpenAPI operationIds) that a
        run may leave out, e.g. one that only a fault can trigger.
        """
        allowed = set(allow)
        missing: list[str] = []
        for event, op in self.contract.receive.items():
            if op.op_id in allowed:
                continue
            if not self.sent_valid[event]:
                missing.append(f"asyncapi receive {op.op_id} ({event}): never sent")
            elif "ok" not in self.codes_seen(event):
                missing.append(f"asyncapi receive {op.op_id} ({event}): never succeeded")
        for event, send in self.contract.send.items():
            if send.op_id not in allowed and not self.received[event]:
                missing.append(f"asyncapi send {send.op_id} ({event}): never received")
        if self.rest is not None:
            called = {op for op, _ in self.rest_calls} | {op for op, _ in self.rest_by_schemathesis}
            for op_id in self.rest.ops:
                if op_id not in allowed and op_id not in called:
                    missing.append(f"openapi {op_id}: never called")
        return missing

    def unseen_codes(self) -> list[str]:
        """`x-errors` codes no answer of that operation carried (reported, not failed)."""
        out = []
        for event, op in self.contract.receive.items():
            seen = self.codes_seen(event)
            for code in sorted(op.errors - seen):
                out.append(f"{event}: {code}")
        return out

    # ---- the report --------------------------------------------------------------------------

    def report(self) -> str:
        """A plain-text coverage report."""
        lines = ["AsyncAPI receive operations (sent valid / invalid; outcomes):"]
        for event, op in sorted(self.contract.receive.items()):
            outcomes = ", ".join(
                f"{code}×{n}" for (ev, code), n in sorted(self.outcomes.items()) if ev == event
            )
            lines.append(
                f"  {event:<18} {self.sent_valid[event]:>5} / {self.sent_invalid[event]:<5}"
                f" {outcomes or '-'}"
            )
            unseen = sorted(op.errors - self.codes_seen(event))
            if unseen:
                lines.append(f"  {'':<18} x-errors never answered: {', '.join(unseen)}")
        lines.append("AsyncAPI send operations (events received):")
        for event in sorted(self.contract.send):
            codes = ", ".join(
                f"{code}×{n}" for (ev, code), n in sorted(self.error_codes.items()) if ev == event
            )
            suffix = f"  ({codes})" if codes else ""
            lines.append(f"  {event:<22} {self.received[event]:>6}{suffix}")
        if self.rest is not None:
            lines.append("OpenAPI operations (driver calls / schemathesis calls; statuses):")
            for op_id in sorted(self.rest.ops):
                mine = sum(n for (op, _), n in self.rest_calls.items() if op == op_id)
                theirs = sum(n for (op, _), n in self.rest_by_schemathesis.items() if op == op_id)
                statuses = sorted(
                    {s for (op, s) in self.rest_calls if op == op_id}
                    | {s for (op, s) in self.rest_by_schemathesis if op == op_id}
                )
                lines.append(
                    f"  {op_id:<16} {mine:>5} / {theirs:<5} {','.join(map(str, statuses)) or '-'}"
                )
        lines.append(
            f"Totals: {sum(self.sent_valid.values())} valid and "
            f"{sum(self.sent_invalid.values())} invalid events sent, {self.acks} acks, "
            f"{sum(self.received.values())} events received, {self.checked} checked, "
            f"{sum(self.rest_calls.values())} driver REST calls, "
            f"{sum(self.rest_by_schemathesis.values())} schemathesis REST calls"
        )
        return "\n".join(lines)
