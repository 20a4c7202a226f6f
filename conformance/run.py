"""A whole conformance run: campaign, state machine and schemathesis, with one coverage report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from conformance import ASYNCAPI_PATH, OPENAPI_PATH
from conformance.campaign import Budget, Campaign
from conformance.coverage import Coverage
from conformance.known import split
from conformance.observer import Violation
from conformance.openapi_fuzz import run_schemathesis
from conformance.rest import load_rest_spec
from conformance.spec import load_contract
from conformance.stateful import MachineConfig, run_machine
from conformance.target import LocalTarget


@dataclass(frozen=True)
class Plan:
    """How much of each part to run."""

    budget: Budget = field(default_factory=Budget)
    machine_examples: int = 6
    machine_steps: int = 30
    machine_shrink: bool = False
    schemathesis_examples: int = 4
    allow_unexercised: tuple[str, ...] = ()

    @classmethod
    def full(cls, seed: int = 1) -> Plan:
        """`nox -s conformance`: a few minutes."""
        return cls(
            budget=Budget.full(seed),
            machine_examples=40,
            machine_steps=60,
            machine_shrink=True,
            schemathesis_examples=25,
        )


@dataclass
class Outcome:
    """Everything a run found and exercised."""

    coverage: Coverage
    violations: list[Violation] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine_error: str | None = None

    @property
    def unexplained(self) -> list[Violation]:
        """Violations no known deviation explains."""
        return split(self.violations)[0]

    @property
    def known(self) -> dict[str, list[Violation]]:
        """Violations a known deviation explains."""
        return split(self.violations)[1]

    def unexercised(self, allow: tuple[str, ...] = ()) -> list[str]:
        """Operations of either spec the run never exercised."""
        return self.coverage.unexercised(allow=allow)

    @property
    def ok(self) -> bool:
        """Nothing unexplained, the machine passed, every operation exercised."""
        return not self.unexplained and self.machine_error is None and not self.unexercised()

    def report(self) -> str:
        """Coverage, violations and timings, as text."""
        lines = [self.coverage.report(), ""]
        lines.append("Time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        missing = self.unexercised()
        lines.append("Never exercised: " + (", ".join(missing) if missing else "nothing"))
        unseen = self.coverage.unseen_codes()
        if unseen:
            lines.append("x-errors codes never answered: " + ", ".join(unseen))
        for key, items in sorted(self.known.items()):
            lines.append(f"Known deviation {key}: {len(items)} (e.g. {items[0]})")
        if self.machine_error is not None:
            lines.append("State machine failed:\n" + self.machine_error)
        if self.unexplained:
            lines.append(f"{len(self.unexplained)} violations:")
            lines += [f"  {v}" for v in self.unexplained[:50]]
        else:
            lines.append("No unexplained violations.")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def run_all(
    target: LocalTarget,
    plan: Plan | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> Outcome:
    """Campaign, then the state machine, then schemathesis, all against one started target."""
    plan = plan or Plan()
    say = log or (lambda _: None)
    contract = load_contract(ASYNCAPI_PATH)
    rest_spec = load_rest_spec(OPENAPI_PATH)
    outcome = Outcome(coverage=Coverage(contract, rest_spec))

    started = time.monotonic()

    async def campaign() -> None:
        try:
            result = await Campaign(
                target.url,
                contract,
                rest_spec,
                budget=plan.budget,
                fingerprint=target.fingerprint,
                fault=target.storage_fault,
                log=say,
            ).run()
        finally:
            await target.close_reader()
        outcome.coverage.merge(result.coverage)
        outcome.violations += result.violations
        outcome.notes += result.notes

    asyncio.run(campaign())
    outcome.seconds["campaign"] = time.monotonic() - started

    started = time.monotonic()
    machine = MachineConfig(target.url, contract, rest_spec, Coverage(contract, rest_spec))
    try:
        run_machine(
            machine,
            examples=plan.machine_examples,
            steps=plan.machine_steps,
            seed=plan.budget.seed,
            shrink=plan.machine_shrink,
        )
    except Exception as exc:  # the falsifying example is in the text
        outcome.machine_error = f"{type(exc).__name__}: {exc}"
    outcome.coverage.merge(machine.coverage)
    for key, count in machine.known.items():
        outcome.notes.append(f"state machine: known deviation {key} seen {count} times")
    outcome.seconds["state machine"] = time.monotonic() - started
    say(f"state machine: {machine.steps} steps")

    started = time.monotonic()
    fuzzed = run_schemathesis(
        OPENAPI_PATH,
        target.url,
        outcome.coverage,
        examples=plan.schemathesis_examples,
        seed=plan.budget.seed,
        log=say,
    )
    outcome.violations += fuzzed.violations
    outcome.seconds["schemathesis"] = time.monotonic() - started
    return outcome
