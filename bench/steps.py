"""One step of a rate ladder (`run_step`), its correctness check (`Ledger`) and the figures.

A step sends `message:create` at a steady rate for some seconds, waits until every
receiver has what was accepted, checks it (nothing lost, duplicated, reordered; every ack
ok — in an overload step, ok or `E_RATE_LIMITED`; one arrival order per channel) and
measures the sender → last receiver latency of each message, deliveries per second, and
the CPU time of the server and of the load generators (the receivers' CPU per delivery is
printed beside the server's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.generators import Loadgen
from bench.servers import Measured

PROBLEM_KEYS = (
    "lost",
    "duplicated",
    "out_of_order",
    "order_diverged_channels",
    "unexpected",
    "refused",
    "unanswered",
)
# Past its capacity the server may shed messages with E_RATE_LIMITED (`rate_limited`):
# the contract allows it, so it is a figure, not a problem. They are neither stored nor
# expected, so not lost; every accepted one still must arrive once and be stored once. A
# step that shed anything is not a passed one (not the knee).


def pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[idx]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


@dataclass
class Ledger:
    """Every correctness problem seen in the run (any one fails the bench)."""

    problems: list[str] = field(default_factory=list)

    def check(self, where: str, step: dict[str, Any], reported: Sequence[str] = ()) -> bool:
        """Record the step's problems (those in `reported` are figures, not failures)."""
        bad = {k: step[k] for k in PROBLEM_KEYS if step.get(k) and k not in reported}
        if bad:
            self.problems.append(f"{where}: {bad}")
        return not bad


async def run_step(
    server: Measured,
    senders: Sequence[tuple[Loadgen, dict[int, int]]],  # (gen, {sender key: channel})
    receivers: Sequence[Loadgen],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Send at `rate` for `seconds`, collect, check; the step's figures."""
    cpu0 = server.cpu_seconds()
    gens = list({id(g): g for g in [*(g for g, _ in senders), *receivers]}.values())
    gen0 = sum(g.cpu_seconds() for g in gens)
    recv0 = sum(g.cpu_seconds() for g in receivers)
    t0 = time.monotonic()
    share = rate / sum(len(m) for _, m in senders)
    sends = await asyncio.gather(
        *(
            g.ask(
                {
                    "cmd": "send",
                    "senders": list(m),
                    "channels": {str(k): c for k, c in m.items()},
                    "rate": share * len(m),
                    "duration": seconds,
                }
            )
            for g, m in senders
        )
    )
    expected: dict[str, dict[str, list[int]]] = {}
    for s in sends:
        for c, m in s["accepted"].items():
            expected.setdefault(c, {}).update(m)
    collects = await asyncio.gather(
        *(g.ask({"cmd": "collect", "expected": expected, "wait": 15}) for g in receivers)
    )
    elapsed = time.monotonic() - t0
    cpu = server.cpu_seconds() - cpu0
    gen_cpu = sum(g.cpu_seconds() for g in gens) - gen0
    recv_cpu = sum(g.cpu_seconds() for g in receivers) - recv0
    worst: dict[str, float] = {}
    for c in collects:
        for k, v in c["worst"].items():
            if v > worst.get(k, -1.0):
                worst[k] = v
    lat = list(worst.values())
    orders: dict[str, set[str]] = {}
    for c in collects:
        for ch, digests in c["orders"].items():
            orders.setdefault(ch, set()).update(digests)
    # Every receiver of a channel must see its messages in one and the same order.
    diverged = sum(1 for digests in orders.values() if len(digests) > 1)
    acks = [a for s in sends for a in s["ack_s"]]
    accepted = sum(s["ok"] for s in sends)
    deliveries = sum(c["deliveries"] for c in collects)
    send_elapsed = max(max(s["send_elapsed"] for s in sends), seconds)
    sent = sum(s["sent"] for s in sends)
    return {
        "rate": rate,
        "sent": sent,
        "accepted": accepted,
        "refused": sum(s["refused"] for s in sends),
        "rate_limited": sum(s["rate_limited"] for s in sends),
        "unanswered": sum(s["unanswered"] for s in sends),
        "deliveries": deliveries,
        "deliveries_per_s": round(deliveries / send_elapsed, 1),
        "messages_per_s": round(sent / send_elapsed, 1),
        "lost": sum(c["lost"] for c in collects) + max(0, accepted - len(lat)),
        "duplicated": sum(c["duplicated"] for c in collects),
        "out_of_order": sum(c["out_of_order"] for c in collects),
        "unexpected": sum(c["unexpected"] for c in collects),
        "order_diverged_channels": diverged,
        "id_inversions": sum(c["id_inversions"] for c in collects),
        "p50_ms": ms(pct(lat, 50)),
        "p95_ms": ms(pct(lat, 95)),
        "p99_ms": ms(pct(lat, 99)),
        "ack_p50_ms": ms(pct(acks, 50)),
        "ack_p99_ms": ms(pct(acks, 99)),
        "server_cpu_s": round(cpu, 3),
        "cpu_us_per_delivery": round(cpu / deliveries * 1e6, 2) if deliveries else None,
        "cpu_us_per_message": round(cpu / sent * 1e6, 1) if sent else None,
        "loadgen_cpu_s": round(gen_cpu, 3),
        "receiver_cpu_s": round(recv_cpu, 3),
        "receiver_cpu_us_per_delivery": (
            round(recv_cpu / deliveries * 1e6, 2) if deliveries else None
        ),
        "wall_s": round(elapsed, 2),
        "rss_mb": round(server.rss_bytes() / 2**20, 1),
    }


def ladder_done(steps: Sequence[dict[str, Any]]) -> bool:
    """Stop climbing after two failed steps in a row (one spike on a busy machine is not
    the limit); the figure is the highest rate that passed."""
    return len(steps) >= 2 and not steps[-1]["passed"] and not steps[-2]["passed"]


def knee_rate(steps: Sequence[dict[str, Any]]) -> float | None:
    """The knee: the highest rate that passed, else the lowest rate tried."""
    passed = [float(s["rate"]) for s in steps if s["passed"]]
    if passed:
        return max(passed)
    return min((float(s["rate"]) for s in steps), default=None)


def plateau_rates(steps: Sequence[dict[str, Any]], factors: Sequence[float]) -> list[float]:
    """The overload steps: each factor times the knee, above every rate already measured
    (a ladder that climbed past 3× the knee needs none)."""
    knee = knee_rate(steps)
    if knee is None:
        return []
    highest = max(float(s["rate"]) for s in steps)
    return [r for r in (round(knee * f, 2) for f in factors) if r > highest]


def plateau(
    steps: Sequence[dict[str, Any]], rss_before: int, min_ratio: float
) -> dict[str, Any] | None:
    """Deliveries/s at the top step (the highest rate: 3× the knee or more) against the best
    step of the whole climb."""
    if not steps:
        return None
    last = max(steps, key=lambda s: float(s["rate"]))
    best = max(steps, key=lambda s: float(s["deliveries_per_s"]))
    ratio = (
        round(last["deliveries_per_s"] / best["deliveries_per_s"], 3)
        if best["deliveries_per_s"]
        else None
    )
    return {
        "knee_rate": knee_rate(steps),
        "best_rate": best["rate"],
        "best_deliveries_per_s": best["deliveries_per_s"],
        "top_rate": last["rate"],
        "top_deliveries_per_s": last["deliveries_per_s"],
        "top_rate_limited": last["rate_limited"],
        "top_p99_ms": last["p99_ms"],
        "ratio": ratio,
        "holds": ratio is not None and ratio >= min_ratio,
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_top_mb": last["rss_mb"],
    }


def best_of(steps: Sequence[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The passed step with the highest `key`."""
    return max((s for s in steps if s["passed"]), key=lambda s: float(s[key]), default=None)


def brief(step: dict[str, Any]) -> str:
    return (
        f"{step['messages_per_s']:g} msg/s, {step['deliveries_per_s']:g} deliveries/s, "
        f"p50 {step['p50_ms']} ms p99 {step['p99_ms']} ms, "
        f"CPU-µs/delivery server {step['cpu_us_per_delivery']} "
        f"receivers {step['receiver_cpu_us_per_delivery']}, "
        f"shed {step['rate_limited']} lost {step['lost']} dup {step['duplicated']} "
        f"disorder {step['out_of_order']} "
        f"diverged {step['order_diverged_channels']} id-inversions {step['id_inversions']}"
    )
