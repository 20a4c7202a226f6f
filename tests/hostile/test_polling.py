"""Long-polling: bodies over the limit answered 413 at once, one poll per session, bad
bodies and refused handshakes close the session."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.hostile.process import ServerProcess, signup

pytestmark = pytest.mark.timeout(300)

POLL = "/socket.io/?EIO=4&transport=polling"


def _handshake(server: ServerProcess, cookie: str | None = None) -> str:
    """A new polling session's sid."""
    cookies = {"connect.sid": cookie} if cookie else {}
    response = httpx.get(server.url + POLL, cookies=cookies, timeout=10)
    assert response.status_code == 200 and response.text.startswith("0{"), response.text
    sid: str = json.loads(response.text[1:])["sid"]
    return sid


def _raw_request(server: ServerProcess, head: bytes, body: bytes, timeout: float) -> bytes:
    """Send a request's bytes as they are; what the server answers, until it closes (or
    `timeout` passes: then the read raises)."""
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head + body)
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


def test_a_polling_post_announcing_more_than_the_limit_is_answered_413_at_once(
    server: ServerProcess,
) -> None:
    sid = _handshake(server, signup(server.url, "pollbig"))
    head = (
        f"POST {POLL}&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: text/plain\r\nContent-Length: 10000000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = _raw_request(server, head, b"40", timeout=5)  # a tiny body; the rest never comes
    elapsed = time.monotonic() - started
    print(f"FIGURE declared 10 MB polling body: answered in {elapsed * 1000:.0f} ms")
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"E_PAYLOAD_TOO_LARGE" in answer


def test_a_chunked_polling_body_over_the_limit_is_answered_413_without_reading_it_all(
    server: ServerProcess,
) -> None:
    sid = _handshake(server, signup(server.url, "pollchunk"))
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(160):  # 10 MB, if the server read it all
            sent += 65536
            yield b"4" * 65536

    started = time.monotonic()
    try:
        response = httpx.post(f"{server.url}{POLL}&sid={sid}", content=chunks(), timeout=10)
        status = response.status_code
    except httpx.HTTPError:  # the server answered and closed while we were still sending
        status = 413
    elapsed = time.monotonic() - started
    print(f"FIGURE chunked body: {status} after {sent} bytes sent, {elapsed * 1000:.0f} ms")
    assert status == 413
    assert sent < 10 * 2**20


def test_a_second_concurrent_poll_on_one_session_is_answered_400_and_the_first_held(
    server: ServerProcess,
) -> None:
    cookie = signup(server.url, "pollpair")
    sid = _handshake(server, cookie)
    first: list[httpx.Response] = []
    holder = threading.Thread(
        target=lambda: first.append(
            httpx.get(f"{server.url}{POLL}&sid={sid}", cookies={"connect.sid": cookie}, timeout=60)
        ),
        daemon=True,
    )
    holder.start()
    time.sleep(0.5)
    started = time.monotonic()
    second = httpx.get(f"{server.url}{POLL}&sid={sid}", timeout=5)
    elapsed = time.monotonic() - started
    print(f"FIGURE overlapping poll: {second.status_code} in {elapsed * 1000:.0f} ms")
    assert second.status_code == 400
    assert holder.is_alive() and not first  # the first poll is still open
    # End the first poll: the client sends its CONNECT, the answer ends the open poll.
    httpx.post(f"{server.url}{POLL}&sid={sid}", content=b"41", timeout=5)
    holder.join(30)


def test_a_refused_polling_handshake_closes_the_session(server: ServerProcess) -> None:
    sid = _handshake(server)  # no session cookie
    assert httpx.post(f"{server.url}{POLL}&sid={sid}", content=b"40", timeout=5).status_code == 200
    refusal = httpx.get(f"{server.url}{POLL}&sid={sid}", timeout=5)
    assert refusal.text.startswith("44") and "E_UNAUTHORIZED" in refusal.text
    started = time.monotonic()
    after = httpx.get(f"{server.url}{POLL}&sid={sid}", timeout=5)  # held 25 s if still open
    assert after.status_code == 400, after.text
    print(f"FIGURE refused polling session gone: {(time.monotonic() - started) * 1000:.0f} ms")


def test_a_polling_body_that_is_not_utf8_or_not_packets_closes_the_session(
    server: ServerProcess,
) -> None:
    for body in (b"\xff\xfe4", b"hello", b"4\x1e"):
        sid = _handshake(server, signup(server.url, f"pollbad{body[0]}{len(body)}"))
        httpx.post(f"{server.url}{POLL}&sid={sid}", content=b"40", timeout=5)
        answer = httpx.post(f"{server.url}{POLL}&sid={sid}", content=body, timeout=5)
        assert answer.status_code == 400, (body, answer.text)
        # The session is closed (its disconnect ran): the next poll is refused at once.
        assert httpx.get(f"{server.url}{POLL}&sid={sid}", timeout=5).status_code == 400
