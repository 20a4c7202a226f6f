"""The per-event CPU cost of metrics, in process: `python -m bench.metrics_cost`.

No server and no sockets: the recording calls one client event and one `message:create`
make, timed with metrics off and then on (the best of several repeats, ns per call):

- the socket observer around one client event (service.observe.SocketObserver: log
  context, and with metrics on the ack-latency timing, the event counter and histogram),
  against the dispatcher's default observer that does nothing;
- what one `message:create` adds besides: the store-to-broadcast histogram, the
  broadcast's delivery counter, one timed database statement (the group-committed
  INSERT; the senders are in the channel's room, so no access query).

The bench's `metrics` scenario measures the same on a running server (CPU per delivery
and per message, metrics on against off); this says where that cost comes from.
"""

from __future__ import annotations

import json
import sys
import timeit
from collections.abc import Callable

from contract_runtime.observer import DispatchObserver, NoObserver
from service import metrics
from service.observe import SocketObserver

NUMBER = 20_000
REPEAT = 7


def ns_per_call(fn: Callable[[], object]) -> float:
    """The best of `REPEAT` runs of `NUMBER` calls, in ns per call."""
    return min(timeit.repeat(fn, number=NUMBER, repeat=REPEAT)) / NUMBER * 1e9


def one_event(observer: DispatchObserver) -> Callable[[], None]:
    def run() -> None:
        observer.event_started("s1", "message:create")(None)

    return run


def create_extras() -> None:
    metrics.message_broadcast(0.0002)
    metrics.broadcast_delivered("message:new", 100)
    metrics.db_query("insert", 0.0001)


def measure() -> dict[str, float]:
    """ns per call of each, metrics off then on (on cannot be turned off in a process)."""
    observer = SocketObserver(lambda sid: 7)
    out = {"event, no observer": ns_per_call(one_event(NoObserver()))}
    assert not metrics.enabled()
    out["event, metrics off"] = ns_per_call(one_event(observer))
    out["message:create extras, metrics off"] = ns_per_call(create_extras)
    metrics.enable()
    out["event, metrics on"] = ns_per_call(one_event(observer))
    out["message:create extras, metrics on"] = ns_per_call(create_extras)
    return {name: round(ns, 1) for name, ns in out.items()}


def main() -> int:
    figures = measure()
    for name, ns in figures.items():
        print(f"{name:40} {ns / 1000:8.2f} µs")
    on = figures["event, metrics on"] + figures["message:create extras, metrics on"]
    off = figures["event, metrics off"] + figures["message:create extras, metrics off"]
    print(f"{'metrics on - off, per message:create':40} {(on - off) / 1000:8.2f} µs")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
