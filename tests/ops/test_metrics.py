"""/metrics on a live server: off by default, behind its token, and figures that move."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import socketio

from tests.ops.conftest import METRICS_TOKEN
from tests.ops.process import ServerProcess
from tests.ops.session import Samples, connect, parse, sign_up, value
from tests.support.clients import RecordingClient

AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def scrape(server: ServerProcess) -> Samples:
    """The server's samples, now."""
    answer = httpx.get(f"{server.url}/metrics", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def test_metrics_are_not_served_by_default(plain: ServerProcess) -> None:
    answer = httpx.get(f"{plain.url}/metrics")
    assert answer.status_code == 404
    assert answer.json()["code"] == "E_NOT_FOUND"


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x"]
)
def test_metrics_with_a_token_refuse_a_scrape_without_it(
    observed: ServerProcess, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    answer = httpx.get(f"{observed.url}/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "E_UNAUTHORIZED"
    assert METRICS_TOKEN not in answer.text


def test_http_requests_are_counted_by_route_template_and_status(observed: ServerProcess) -> None:
    before = scrape(observed)
    for _ in range(3):
        assert httpx.get(f"{observed.url}/api/servers/999999").status_code == 401
    assert httpx.get(f"{observed.url}/no/such/page").status_code == 404
    after = scrape(observed)
    route = {"method": "GET", "route": "/api/servers/{serverId}", "status": "401"}
    assert (
        value(after, "zizany_http_requests_total", **route)
        - value(before, "zizany_http_requests_total", **route)
        == 3
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "zizany_http_requests_total", **unmatched) >= 1
    # The raw path never becomes a label (a client could make them without end).
    assert not any("999999" in str(labels) for _, labels in after)


@pytest.mark.anyio
async def test_a_short_socket_session_moves_every_socket_figure(observed: ServerProcess) -> None:
    url = observed.url
    before = scrape(observed)
    sara = await sign_up(url, "Sara")
    refused = RecordingClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(url, headers={"Cookie": "connect.sid=forged"})
    client = await connect(url, sara)
    try:
        during = scrape(observed)
        assert (await client.call("server:join", {"serverId": sara.server_id}))["ok"] is True
        missing = await client.call("server:join", {"serverId": 2_000_000_000})
        assert missing["ok"] is False
        invalid = await client.call("server:join", {"serverId": "one"})
        assert invalid["code"] == "E_VALIDATION"
        # No handler takes it: counted as `other`, and (as python-socketio does) not acked.
        acked: list[Any] = []
        await client.sio.emit("no:such-event", {"x": 1}, callback=lambda *a: acked.append(a))
        assert (await client.call("channel:join", {"channelId": sara.channel_id}))["ok"] is True
        sent = await client.call(
            "message:create", {"channelId": sara.channel_id, "content": "counted"}
        )
        assert sent["ok"] is True
        assert acked == []
    finally:
        await client.close()
    after = scrape(observed)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert (
        value(during, "zizany_sockets_connected") == value(before, "zizany_sockets_connected") + 1
    )
    assert value(after, "zizany_sockets_connected") == value(before, "zizany_sockets_connected")
    assert grew("zizany_handshakes_total", result="accepted", reason="") == 1
    assert grew("zizany_handshakes_total", result="refused", reason="E_UNAUTHORIZED") == 1
    assert grew("zizany_client_events_total", event="server:join", code="ok") == 1
    assert grew("zizany_client_events_total", event="server:join", code=missing["code"]) == 1
    assert grew("zizany_client_events_total", event="server:join", code="E_VALIDATION") == 1
    assert grew("zizany_client_events_total", event="message:create", code="ok") == 1
    assert grew("zizany_client_events_total", event="other", code="other") == 1
    assert grew("zizany_ack_seconds_count", event="server:join") == 3
    assert grew("zizany_ack_seconds_sum", event="server:join") > 0
    assert grew("zizany_ack_seconds_bucket", event="message:create", le="+Inf") == 1
    # message:new reached the sender's socket; store-to-broadcast was timed once.
    assert grew("zizany_broadcast_deliveries_total", event="message:new") == 1
    assert grew("zizany_message_broadcast_seconds_count") == 1
    assert not any("no:such-event" in str(labels) for _, labels in after)
    # The handshake, the join and the message were read from and written to the database.
    assert grew("zizany_db_query_seconds_count", operation="select") > 0
    assert grew("zizany_db_query_seconds_count", operation="insert") >= 2  # user, message


def test_the_mirrored_counters_are_exported_from_the_start(observed: ServerProcess) -> None:
    samples = scrape(observed)
    for name in (
        "zizany_broadcast_publish_failures_total",
        "zizany_rate_limit_fallbacks_total",
        "zizany_slow_consumers_dropped_total",
        "zizany_pubsub_gaps_total",
        "zizany_resync_connections_dropped_total",
    ):
        assert (name, frozenset()) in samples, name
