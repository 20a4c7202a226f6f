"""CountsMirror: the running totals of Realtime.counters() become Prometheus increments."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from service import metrics


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_enabled", True)


def _value(name: str) -> float:
    for line in generate_latest(metrics.instruments().registry).decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exported")


@pytest.mark.usefixtures("enabled")
@pytest.mark.parametrize(
    ("key", "metric"),
    [
        ("broadcast_publish_failures", "zizany_broadcast_publish_failures_total"),
        ("rate_limit_local_fallbacks", "zizany_rate_limit_fallbacks_total"),
        ("slow_consumers_dropped", "zizany_slow_consumers_dropped_total"),
        ("pubsub_gaps", "zizany_pubsub_gaps_total"),
        ("resync_connections_dropped", "zizany_resync_connections_dropped_total"),
    ],
)
def test_a_total_that_grows_is_added_once_and_a_repeat_adds_nothing(key: str, metric: str) -> None:
    mirror = metrics.CountsMirror()
    before = _value(metric)
    mirror.update({key: 3})
    mirror.update({key: 3})  # the same total again: nothing new
    mirror.update({key: 5})
    assert _value(metric) == before + 5
