"""Logs of a live server: JSON line by line, request and socket context, nothing secret."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from typing import Any

import httpx
import pytest

from service.logs import JsonFormatter
from tests.ops.process import ServerProcess
from tests.ops.session import connect, sign_up

REQUIRED = {"time", "level", "logger", "message"}


def json_lines(server: ServerProcess) -> list[dict[str, Any]]:
    """Every line the server wrote, each parsed as one JSON object (fails on any other)."""
    entries = []
    for number, line in enumerate(server.output().splitlines(), 1):
        entry = json.loads(line)  # a line that is not one JSON object fails the test here
        assert isinstance(entry, dict), (number, line)
        assert entry.keys() >= REQUIRED, (number, line)
        entries.append(entry)
    return entries


def wait_for_line(server: ServerProcess, predicate: Any, timeout: float = 10) -> dict[str, Any]:
    """The first JSON line matching `predicate`, waiting for it to be written."""
    deadline = time.monotonic() + timeout
    while True:
        found = [entry for entry in json_lines(server) if predicate(entry)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no such log line in:\n{server.output()}")
        time.sleep(0.1)


def test_a_sane_request_id_is_kept_answered_and_in_the_access_log(
    observed: ServerProcess,
) -> None:
    answer = httpx.get(f"{observed.url}/api/health", headers={"X-Request-Id": "lb-7f3a.42"})
    assert answer.headers["x-request-id"] == "lb-7f3a.42"
    access = wait_for_line(observed, lambda e: e.get("request_id") == "lb-7f3a.42")
    assert access["logger"] == "uvicorn.access"
    assert "GET /api/health" in access["message"]
    assert access["level"] == "INFO"


@pytest.mark.parametrize("sent", ["has spaces in it", "x" * 65, 'quote"d', "<script>"])
def test_an_odd_request_id_is_replaced_by_a_new_one(observed: ServerProcess, sent: str) -> None:
    answer = httpx.get(f"{observed.url}/api/health", headers={"X-Request-Id": sent})
    given = answer.headers["x-request-id"]
    assert given != sent
    assert re.fullmatch(r"[0-9a-f]{16}", given)
    wait_for_line(observed, lambda e: e.get("request_id") == given)


def test_every_request_gets_its_own_id(observed: ServerProcess) -> None:
    ids = {httpx.get(f"{observed.url}/api/health").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.anyio
async def test_socket_lines_name_the_socket_and_user_and_no_secret_is_logged(
    observed: ServerProcess,
) -> None:
    omar = await sign_up(observed.url, "Omar")
    client = await connect(observed.url, omar)
    secret_text = "the-content-" + omar.cookie[-12:]
    try:
        assert (await client.call("channel:join", {"channelId": omar.channel_id}))["ok"] is True
        sent = await client.call(
            "message:create", {"channelId": omar.channel_id, "content": secret_text}
        )
        assert sent["ok"] is True
        sid = client.sio.get_sid()
    finally:
        await client.close()
    connected = wait_for_line(
        observed, lambda e: e["message"] == "socket connected" and e.get("socket_id") == sid
    )
    assert connected["user_id"] == omar.user_id
    assert connected["logger"] == "zizany.observe"
    assert "request_id" in connected  # the WebSocket request that carried the handshake
    gone = wait_for_line(
        observed, lambda e: e["message"] == "socket disconnected" and e.get("socket_id") == sid
    )
    assert gone["user_id"] == omar.user_id
    output = observed.output()
    for secret in (omar.cookie, omar.password, secret_text):
        assert secret not in output


def test_the_default_log_format_is_text_with_the_request_id(plain: ServerProcess) -> None:
    answer = httpx.get(f"{plain.url}/api/health", headers={"X-Request-Id": "plain-1"})
    assert answer.headers["x-request-id"] == "plain-1"
    deadline = time.monotonic() + 10
    while "request_id=plain-1" not in plain.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    (line,) = [line for line in plain.output().splitlines() if "request_id=plain-1" in line]
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO uvicorn\.access: .*GET /api/health.* 200"
        r" \[request_id=plain-1\]$",
        line,
    ), line
    for text in plain.output().splitlines():
        assert not text.startswith("{"), text


def test_the_access_log_leaves_out_the_query_string(observed: ServerProcess) -> None:
    httpx.get(f"{observed.url}/api/health?sid=private-value", headers={"X-Request-Id": "q-1"})
    access = wait_for_line(observed, lambda e: e.get("request_id") == "q-1")
    assert "GET /api/health " in access["message"]
    assert "private-value" not in observed.output()


def test_a_traceback_stays_inside_its_one_json_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(instance="host:4000/w1"))
    logger = logging.getLogger("tests.ops.traceback")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("boom\nwith a second line")
        except ValueError:
            logger.error("handler of %s failed", "message:create", exc_info=True)
    finally:
        logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "handler of message:create failed"
    assert entry["level"] == "ERROR"
    assert entry["instance"] == "host:4000/w1"
    assert "ValueError: boom\nwith a second line" in entry["exception"]
    assert entry["time"].endswith("+00:00")
