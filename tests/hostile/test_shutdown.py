"""SIGTERM: the events received are finished and acked before each socket closes with 1012,
a held long-poll is answered at once, new work is refused, and the process exits 0 within
`ZIZANY_SHUTDOWN_TIMEOUT_SECONDS`.

Each test starts its own `zizany serve` (the signal ends it) and reads what it stored
straight from its SQLite file once it has exited.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.hostile.process import ServerProcess, create_public_server, running, signup
from tests.hostile.wire import connected_socket, next_packet

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

POLL = "/socket.io/?EIO=4&transport=polling"
SOCKETS = 5
MESSAGES_PER_SOCKET = 200


def _signal(server: ServerProcess) -> float:
    """SIGTERM to the server; the monotonic time it was sent."""
    sent = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    return sent


async def _exit_status(server: ServerProcess, signalled: float, bound: float) -> tuple[int, float]:
    """The exit status and the seconds from the signal to the exit (fails past `bound` + 5)."""
    status = await asyncio.to_thread(server.process.wait, bound + 5)
    return status, time.monotonic() - signalled


def first_channel(url: str, cookie: str, server_id: int) -> int:
    """The id of the server's first channel (`general`)."""
    response = httpx.get(f"{url}/api/servers/{server_id}/channels", cookies={"connect.sid": cookie})
    assert response.status_code == 200, response.text
    channel_id: int = response.json()["channels"][0]["id"]
    return channel_id


def _stored_contents(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "zizany.db") as db:
        return {row[0] for row in db.execute("SELECT content FROM messages")}


async def read_until_closed(ws: ClientConnection) -> tuple[list[str], int | None]:
    """Every packet until the server closes the socket, and its close code."""
    packets: list[str] = []
    try:
        async with asyncio.timeout(30):
            while True:
                frame = await ws.recv()
                assert isinstance(frame, str), frame
                if frame == "2":
                    await ws.send("3")
                packets.append(frame)
    except websockets.ConnectionClosed:
        pass
    received = ws.protocol.close_rcvd
    return packets, received.code if received is not None else None


def acked_contents(packets: list[str], contents: dict[int, str]) -> set[str]:
    """The contents of the messages whose ok ack is among `packets` (ack id → content)."""
    acked: set[str] = set()
    for packet in packets:
        found = re.match(r"43(\d+)(\[.*)", packet, re.DOTALL)
        if found and int(found[1]) in contents:
            reply = json.loads(found[2])[0]
            assert reply["ok"] is True, reply
            assert reply["message"]["content"] == contents[int(found[1])]
            acked.add(reply["message"]["content"])
    return acked


async def test_every_message_received_before_the_signal_is_acked_before_the_1012_close(
    tmp_path: Path,
) -> None:
    timeout = 8.0
    with running(tmp_path, message_rate_limit=100_000, shutdown_timeout_seconds=timeout) as server:
        cookie = signup(server.url, "drainer")
        channel_id = first_channel(server.url, cookie, create_public_server(server.url, cookie))
        sockets = [await connected_socket(server, cookie) for _ in range(SOCKETS)]
        for ws in sockets:
            await ws.send(f'421["channel:join",{{"channelId":{channel_id}}}]')
            while not (await next_packet(ws)).startswith("431"):
                pass
        readers = [asyncio.create_task(read_until_closed(ws)) for ws in sockets]
        sent: list[dict[int, str]] = [{} for _ in sockets]
        # Every socket sends its messages at once; the signal follows the last send, while
        # the server is still storing them (a batch of group commits).
        for ack_id in range(10, 10 + MESSAGES_PER_SOCKET):
            for n, ws in enumerate(sockets):
                content = f"m{n}-{ack_id}"
                sent[n][ack_id] = content
                payload = json.dumps({"channelId": channel_id, "content": content})
                await ws.send(f'42{ack_id}["message:create",{payload}]')
        signalled = _signal(server)
        results = await asyncio.gather(*readers)
        status, elapsed = await _exit_status(server, signalled, timeout)
        for ws in sockets:
            await ws.close()
        log = "\n".join(server.log_lines())

    codes = [code for _, code in results]
    acked: set[str] = set()
    for n, (packets, _) in enumerate(results):
        acked |= acked_contents(packets, sent[n])
    stored = _stored_contents(tmp_path)
    running_at_signal = re.search(r"client events finished: (\d+) were running", log)
    print(
        f"FIGURE SIGTERM with {SOCKETS * MESSAGES_PER_SOCKET} message:create sent: "
        f"{len(acked)} acked, {len(stored)} stored, "
        f"{running_at_signal[1] if running_at_signal else '?'} running at the signal; "
        f"exit {status} after {elapsed:.2f} s"
    )
    assert codes == [1012] * SOCKETS, codes
    # Stored exactly when acknowledged: nothing stored whose ack was lost, nothing acked lost.
    assert stored == acked, (len(stored - acked), len(acked - stored))
    assert running_at_signal is not None and int(running_at_signal[1]) > 0, log[-3000:]
    assert status == 0 and elapsed < timeout, (status, elapsed)


async def test_a_held_long_poll_is_answered_at_once_and_the_process_exits_in_the_bound(
    tmp_path: Path,
) -> None:
    default_timeout = 10.0  # ZIZANY_SHUTDOWN_TIMEOUT_SECONDS left at its default
    with running(tmp_path) as server:
        cookie = signup(server.url, "poller")
        async with httpx.AsyncClient(
            base_url=server.url, cookies={"connect.sid": cookie}, timeout=60
        ) as client:
            opened = await client.get(POLL)
            sid = json.loads(opened.text[1:])["sid"]
            assert (await client.post(f"{POLL}&sid={sid}", content="40")).status_code == 200
            assert (await client.get(f"{POLL}&sid={sid}")).text.startswith("40{")
            held = asyncio.create_task(client.get(f"{POLL}&sid={sid}"))
            await asyncio.sleep(0.5)
            assert not held.done()  # Engine.IO holds it until it has something to send
            signalled = _signal(server)
            answer = await asyncio.wait_for(held, 5)
            answered_in = time.monotonic() - signalled
            status, elapsed = await _exit_status(server, signalled, default_timeout)
            with pytest.raises(httpx.ConnectError):  # nobody listens any more
                await client.get(f"{POLL}&sid={sid}")
    print(f"FIGURE held long-poll answered {answered_in:.2f} s after SIGTERM; exit {elapsed:.2f} s")
    assert answer.status_code == 200 and answer.text == "6", answer.text  # Engine.IO NOOP
    assert answered_in < 2, answered_in
    assert status == 0 and elapsed < default_timeout, (status, elapsed)


def _raw_websocket(port: int) -> socket.socket:
    """A WebSocket handshake done by hand; the socket then never reads nor answers."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(_upgrade_request(port))
    answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def _upgrade_request(port: int) -> bytes:
    return (
        f"GET {POLL.replace('polling', 'websocket')} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _read_all(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    return answer


async def test_after_the_signal_new_connections_requests_and_handshakes_are_refused(
    tmp_path: Path,
) -> None:
    timeout = 4.0
    with running(tmp_path, shutdown_timeout_seconds=timeout) as server:
        # A WebSocket that never answers the close keeps the shutdown busy for a while;
        # connections opened before the signal then try new work.
        stuck = _raw_websocket(server.port)
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(2)]
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            assert (await client.get("/api/health")).status_code == 200  # kept alive
            signalled = _signal(server)
            await asyncio.sleep(0.5)
            refused_rest = await client.get("/api/health")
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
            idle[0].sendall(_upgrade_request(server.port))
            idle[1].sendall(f"GET {POLL} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            refused_ws = await asyncio.to_thread(_read_all, idle[0])
            refused_poll = await asyncio.to_thread(_read_all, idle[1])
            status, elapsed = await _exit_status(server, signalled, timeout)
        for sock in [stuck, *idle]:
            sock.close()
    assert refused_rest.status_code == 503, refused_rest.text
    assert refused_rest.headers["retry-after"] == "1"
    assert refused_rest.json()["code"] == "E_INTERNAL"
    assert refused_ws.startswith(b"HTTP/1.1 503"), refused_ws
    assert refused_poll.startswith(b"HTTP/1.1 503"), refused_poll
    assert status == 0 and elapsed < timeout, (status, elapsed)
