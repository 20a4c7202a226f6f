"""The runner's reading of `x-rate-limit`: when an answer must be, or may be, a refusal."""

from __future__ import annotations

from conformance import ASYNCAPI_PATH
from conformance.limits import MARGIN, RateTracker
from conformance.spec import load_contract


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_tracker_follows_each_declared_limit_per_its_key() -> None:
    contract = load_contract(ASYNCAPI_PATH)
    clock = Clock()
    rates = RateTracker(contract, clock)
    assert "message:create" not in rates.limits  # counted after permission: the model's
    limit = rates.limits["typing:start"]
    here, there = {"channelId": 1}, {"channelId": 2}
    for _ in range(limit.limit):
        assert not rates.must_refuse("typing:start", 7, here)
        assert not rates.may_refuse("typing:start", 7, here)
        rates.let_through("typing:start", 7, here)
    # typing:start and typing:stop share one count per user and channel.
    assert rates.must_refuse("typing:stop", 7, here) and rates.may_refuse("typing:stop", 7, here)
    assert not rates.may_refuse("typing:start", 7, there)
    assert not rates.may_refuse("typing:start", 8, here)
    clock.now += limit.window_seconds - MARGIN  # near the edge: either answer is right
    assert not rates.must_refuse("typing:start", 7, here)
    assert rates.may_refuse("typing:start", 7, here)
    clock.now += 2 * MARGIN  # past the window and its margin: none may be refused
    assert not rates.may_refuse("typing:start", 7, here)
