"""Connections at the uvicorn level, as `zizany serve` configures it: a read deadline for
connections that have not sent a whole request, and a cap on concurrent connections."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.conftest import READ_TIMEOUT
from tests.hostile.process import ServerProcess, running

pytestmark = pytest.mark.timeout(300)

CAP = 30


def _connect(server: ServerProcess, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sockets.append(sock)
    return sockets


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed this connection (EOF, possibly after a 408)."""
    sock.settimeout(0.2)
    try:
        while data := sock.recv(4096):
            if not data.startswith(b"HTTP/1.1 408"):
                return False
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def test_connections_that_send_nothing_or_half_a_request_are_closed_by_the_read_deadline(
    server: ServerProcess,
) -> None:
    before = server.open_connections()
    silent = _connect(server, 100)
    half = _connect(server, 100)
    for sock in half:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    time.sleep(0.5)
    held = server.open_connections()
    time.sleep(READ_TIMEOUT + 1.5)
    after = server.open_connections()
    closed = sum(_closed_by_server(sock) for sock in silent + half)
    for sock in silent + half:
        sock.close()
    print(
        f"FIGURE 200 idle/half connections: held {held - before} at first, "
        f"{after - before} after {READ_TIMEOUT + 2:.1f} s; {closed} closed by the server"
    )
    assert held - before >= 150
    assert closed == 200
    assert after - before <= 5


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir: Path = tmp_path_factory.mktemp("capped")
    with running(data_dir, max_connections=CAP, request_read_timeout_seconds=10) as live:
        yield live


def test_connections_over_the_cap_are_refused_with_503_and_the_server_keeps_answering(
    capped: ServerProcess,
) -> None:
    hold = _connect(capped, CAP + 10)
    # The kernel completes the TCP handshakes at once; the server counts a connection only
    # when its loop accepts it. Let it accept them all before the requests arrive, or the
    # first requests see fewer connections than are open (flaky on a busy machine).
    time.sleep(0.5)
    statuses = []
    for sock in hold:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    for sock in hold:
        statuses.append(sock.recv(4096).split(b" ", 2)[1])
        sock.close()
    refused = statuses.count(b"503")
    print(f"FIGURE {CAP + 10} connections at a cap of {CAP}: {refused} answered 503")
    assert refused >= 10
    # Once they are gone, the server answers again.
    time.sleep(0.5)
    with socket.create_connection(("127.0.0.1", capped.port), timeout=5) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
