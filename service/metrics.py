"""Prometheus metrics: the instruments, their typed recording functions, and the scrape.

Off by default (`ZIZANY_METRICS=true` turns collection and `/metrics` on); when off,
every recording function returns at once. The instruments are process-wide, as
prometheus-client's are; `enable()` is called by `create_app` when the settings ask.

Several workers (`zizany serve --workers N`): prometheus-client's multiprocess mode. The
supervisor (service.workers) gives the workers one fresh `PROMETHEUS_MULTIPROC_DIR`;
each worker writes its samples there (memory-mapped files), and whichever worker answers
a scrape adds up all of them: one endpoint, the whole host's figures, whichever worker
the kernel hands the connection to. Gauges use `livesum` (only live workers count; the
supervisor marks a dead worker's files). Counters of a dead worker keep their last
value, so totals never go backwards across restarts.

Label values are bounded: events are the names the server handles (any other name a
client sends counts as `other`), routes are route templates, codes are the contract's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
_CODE = re.compile(r"E_[A-Z0-9_]{1,40}")

# Buckets in seconds: acks and HTTP answers are ~0.5-5 ms on SQLite, queries ~0.05-1 ms.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_QUERY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)


@dataclass(frozen=True)
class Instruments:
    """Every metric Zizany exports (names and meanings: README, "Operating")."""

    registry: CollectorRegistry
    sockets_connected: Gauge
    handshakes: Counter
    client_events: Counter
    ack_seconds: Histogram
    broadcast_deliveries: Counter
    emits_refused: Counter
    publish_failures: Counter
    rate_limit_fallbacks: Counter
    saturation_refusals: Counter
    slow_consumers_dropped: Counter
    pubsub_gaps: Counter
    resync_connections_dropped: Counter
    message_broadcast_seconds: Histogram
    db_query_seconds: Histogram
    http_requests: Counter
    http_request_seconds: Histogram


@cache
def instruments() -> Instruments:
    """The process's instruments, created once (in the worker, after the env is set)."""
    registry = CollectorRegistry()
    return Instruments(
        registry=registry,
        sockets_connected=Gauge(
            "zizany_sockets_connected",
            "Socket.IO connections accepted and not yet closed.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        handshakes=Counter(
            "zizany_handshakes",
            "Socket.IO handshakes by result (accepted/refused) and refusal reason.",
            ["result", "reason"],
            registry=registry,
        ),
        client_events=Counter(
            "zizany_client_events",
            "Client events handled, by event name and result code (ok or the E_ code).",
            ["event", "code"],
            registry=registry,
        ),
        ack_seconds=Histogram(
            "zizany_ack_seconds",
            "Time from a client event's arrival to its ack, per event (waiting included).",
            ["event"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        ),
        broadcast_deliveries=Counter(
            "zizany_broadcast_deliveries",
            "Server events delivered to sockets by room broadcasts, per event.",
            ["event"],
            registry=registry,
        ),
        emits_refused=Counter(
            "zizany_emits_refused",
            "Outgoing payloads refused because they did not match the spec, per message.",
            ["message"],
            registry=registry,
        ),
        publish_failures=Counter(
            "zizany_broadcast_publish_failures",
            "Broadcasts that could not be published to the other processes (Redis down).",
            registry=registry,
        ),
        rate_limit_fallbacks=Counter(
            "zizany_rate_limit_fallbacks",
            "Rate-limit checks counted in this process only because Redis was unreachable.",
            registry=registry,
        ),
        saturation_refusals=Counter(
            "zizany_saturation_refusals",
            "New messages refused (E_RATE_LIMITED) because the process was saturated, by "
            "signal: writer (queue full), lag (event loop), queue (waited for its turn), "
            "backlog (too many of its socket's events waiting).",
            ["reason"],
            registry=registry,
        ),
        slow_consumers_dropped=Counter(
            "zizany_slow_consumers_dropped",
            "WebSocket recipients disconnected because they held more unsent than allowed.",
            registry=registry,
        ),
        pubsub_gaps=Counter(
            "zizany_pubsub_gaps",
            "Times this process may have missed other processes' room events (Redis).",
            registry=registry,
        ),
        resync_connections_dropped=Counter(
            "zizany_resync_connections_dropped",
            "Connections ended after a pub/sub gap so that their clients catch up.",
            registry=registry,
        ),
        message_broadcast_seconds=Histogram(
            "zizany_message_broadcast_seconds",
            "message:create: time from the message being stored to its broadcast.",
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        ),
        db_query_seconds=Histogram(
            "zizany_db_query_seconds",
            "Database statement execution time, by statement kind.",
            ["operation"],
            registry=registry,
            buckets=_QUERY_BUCKETS,
        ),
        http_requests=Counter(
            "zizany_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        ),
        http_request_seconds=Histogram(
            "zizany_http_request_seconds",
            "HTTP request duration (to the end of the response), by method and route.",
            ["method", "route"],
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        ),
    )


_enabled = False


def enable() -> None:
    """Collect from now on (in this process)."""
    global _enabled
    instruments()
    _enabled = True


def enabled() -> bool:
    """Whether this process collects."""
    return _enabled


def multiprocess() -> bool:
    """Whether the samples are shared through PROMETHEUS_MULTIPROC_DIR (several workers)."""
    return bool(os.environ.get(MULTIPROC_ENV))


def scrape() -> tuple[bytes, str]:
    """The exposition text of every sample (all workers' in multiprocess mode)."""
    if multiprocess():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = instruments().registry
    return generate_latest(registry), CONTENT_TYPE_LATEST


def code_label(code: str | None) -> str:
    """`ok`, a contract error code, or `other` (never an unbounded value)."""
    if code is None:
        return "ok"
    return code if _CODE.fullmatch(code) else OTHER


# ---- the typed recording API (each returns at once when metrics are off) --------------


def socket_connected() -> None:
    """A Socket.IO handshake was accepted: one more connected socket."""
    if _enabled:
        m = instruments()
        m.handshakes.labels("accepted", "").inc()
        m.sockets_connected.inc()


def socket_disconnected() -> None:
    """An accepted socket closed."""
    if _enabled:
        instruments().sockets_connected.dec()


def handshake_refused(reason: str) -> None:
    """A Socket.IO handshake was refused with `reason` (an error code such as E_UNAUTHORIZED)."""
    if _enabled:
        instruments().handshakes.labels("refused", code_label(reason)).inc()


def event_handled(event: str, code: str | None, seconds: float) -> None:
    """A client event was answered: `code` None for ok, else the ack's error code."""
    if _enabled:
        counted, timed = _event_children(event, code)
        counted.inc()
        timed.observe(seconds)


@cache
def _event_children(event: str, code: str | None) -> tuple[Counter, Histogram]:
    # labels() takes a lock and builds a key on every call; the children are kept instead
    # (bounded: events are handled names or `other`, codes the server's own).
    m = instruments()
    return m.client_events.labels(event, code_label(code)), m.ack_seconds.labels(event)


def broadcast_delivered(event: str, recipients: int) -> None:
    """A room broadcast of `event` went out to `recipients` sockets of this process."""
    if _enabled and recipients > 0:
        _delivery_child(event).inc(recipients)


@cache
def _delivery_child(event: str) -> Counter:
    # Kept, as the event children are (bounded: the server events of the contract).
    return instruments().broadcast_deliveries.labels(event)


def message_broadcast(seconds: float) -> None:
    """message:create: the time from storing the message to broadcasting message:new."""
    if _enabled:
        instruments().message_broadcast_seconds.observe(seconds)


def db_query(operation: str, seconds: float) -> None:
    """One database statement of kind `operation` (select, insert, ...) took `seconds`."""
    if _enabled:
        _query_child(operation).observe(seconds)


@cache
def _query_child(operation: str) -> Histogram:
    # Kept (bounded: the few statement kinds of service.db.engine).
    return instruments().db_query_seconds.labels(operation)


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    """One HTTP request answered."""
    if _enabled:
        m = instruments()
        m.http_requests.labels(method, route, str(status)).inc()
        m.http_request_seconds.labels(method, route).observe(seconds)


# ---- counts the real-time side already keeps, mirrored as counters --------------------


class CountsMirror:
    """Turns the running totals of `Realtime.counters()` into counter increments.

    Emits refused by validation (`emit_rejected:<message>`), broadcasts not published,
    rate-limit fallbacks, saturation refusals and slow consumers dropped are already
    counted where they happen; each worker mirrors them every few seconds (and before a
    scrape), so no second count is kept in those paths.
    """

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def update(self, counts: Mapping[str, int]) -> None:
        """Add what each known total grew by since the last update."""
        if not _enabled:
            return
        m = instruments()
        for key, value in counts.items():
            grown = value - self._seen.get(key, 0)
            self._seen[key] = value
            if grown <= 0:
                continue
            if key.startswith("emit_rejected:") and not key.startswith("emit_rejected:code:"):
                m.emits_refused.labels(key.removeprefix("emit_rejected:")).inc(grown)
            elif key == "broadcast_publish_failures":
                m.publish_failures.inc(grown)
            elif key == "rate_limit_local_fallbacks":
                m.rate_limit_fallbacks.inc(grown)
            elif key.startswith("saturation_refused:"):
                m.saturation_refusals.labels(key.removeprefix("saturation_refused:")).inc(grown)
            elif key == "slow_consumers_dropped":
                m.slow_consumers_dropped.inc(grown)
            elif key == "pubsub_gaps":
                m.pubsub_gaps.inc(grown)
            elif key == "resync_connections_dropped":
                m.resync_connections_dropped.inc(grown)
