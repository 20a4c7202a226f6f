"""The bounded conformance run of the normal suite: campaign, state machine and schemathesis."""

from __future__ import annotations

from conformance.campaign import Budget
from conformance.run import Plan, run_all
from conformance.target import LocalTarget

BOUNDED = Plan(
    budget=Budget(seed=20260202),
    machine_examples=6,
    machine_steps=35,
    schemathesis_examples=2,
)


def test_a_bounded_run_finds_no_unexplained_violation_and_exercises_every_operation(
    target: LocalTarget,
) -> None:
    outcome = run_all(target, BOUNDED)
    report = outcome.report()
    print(report)
    assert outcome.machine_error is None, report
    assert not outcome.unexplained, report
    assert not outcome.unexercised(), report
    totals = outcome.coverage
    assert totals.checked > 3000 and totals.acks > 500, report
