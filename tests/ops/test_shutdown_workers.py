"""`serve --workers 2` and SIGTERM to the supervisor alone: it passes the signal on, every
socket of both workers closes with 1012 after its acks, the presence leases in Redis are
gone (no other process thinks these users online), and it all exits 0 within the bound."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
import redis as sync_redis
import websockets
from websockets.asyncio.client import ClientConnection

from tests.hostile.process import create_public_server, signup
from tests.hostile.test_shutdown import acked_contents, first_channel, read_until_closed
from tests.support.cluster import FAST_PRESENCE, Cluster, Node, cluster, sockets_per_worker
from tests.support.services import REDIS_URL, postgres_url

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.timeout(300),
]

TIMEOUT = 6.0
MESSAGES = 20  # per socket, sent just before the signal


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Cluster, Node]]:
    with cluster(
        tmp_path,
        ZIZANY_SHUTDOWN_TIMEOUT_SECONDS=str(TIMEOUT),
        ZIZANY_MESSAGE_RATE_LIMIT="100000",
        **FAST_PRESENCE,
    ) as made:
        node = made.node("W", workers=2)
        made.start("W")
        yield made, node


async def _socket(node: Node, cookie: str, channel_id: int) -> ClientConnection:
    """A raw WebSocket, connected and in the channel's room."""
    ws = await websockets.connect(
        f"ws://127.0.0.1:{node.port}/socket.io/?EIO=4&transport=websocket",
        additional_headers={"Cookie": f"connect.sid={cookie}"},
        open_timeout=10,
    )
    assert str(await ws.recv()).startswith("0{")
    await ws.send("40")
    assert str(await ws.recv()).startswith("40{")
    await ws.send(f'421["channel:join",{{"channelId":{channel_id}}}]')
    while not str(await asyncio.wait_for(ws.recv(), 10)).startswith("431"):
        pass
    return ws


async def _stored_contents(database: str) -> set[str]:
    connection = await asyncpg.connect(postgres_url(database).replace("+asyncpg", ""))
    try:
        return {row[0] for row in await connection.fetch("SELECT content FROM messages")}
    finally:
        await connection.close()


def _presence_members(prefix: str) -> int:
    """Entries left in every presence key of the prefix."""
    client = sync_redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        total = 0
        for key in client.scan_iter(match=f"{prefix}:presence:*"):
            kind = client.type(key)
            total += int(client.zcard(key) if kind == "zset" else client.scard(key))
        return total
    finally:
        client.close()


async def test_sigterm_to_the_supervisor_drains_both_workers_within_the_bound(
    workers: tuple[Cluster, Node],
) -> None:
    made, node = workers
    cookie = signup(node.url, "drained")
    server_id = create_public_server(node.url, cookie)
    channel_id = first_channel(node.url, cookie, server_id)
    sockets: list[ClientConnection] = []
    try:
        for _ in range(15):  # concurrent batches, until the kernel gave both workers some
            sockets += await asyncio.gather(*(_socket(node, cookie, channel_id) for _ in range(6)))
            per_worker = sockets_per_worker(made.prefix)
            if sorted(k for k, v in per_worker.items() if v) == ["W/w0", "W/w1"]:
                break
        assert sorted(sockets_per_worker(made.prefix)) == ["W/w0", "W/w1"]
        readers = [asyncio.create_task(read_until_closed(ws)) for ws in sockets]
        sent: list[dict[int, str]] = [{} for _ in sockets]
        for ack_id in range(10, 10 + MESSAGES):
            for n, ws in enumerate(sockets):
                sent[n][ack_id] = content = f"w{n}-{ack_id}"
                payload = json.dumps({"channelId": channel_id, "content": content})
                await ws.send(f'42{ack_id}["message:create",{payload}]')
        assert node.process is not None
        signalled = time.monotonic()
        node.process.send_signal(signal.SIGTERM)  # the supervisor only, not its group
        results = await asyncio.gather(*readers)
        status = await asyncio.to_thread(node.process.wait, TIMEOUT + 5)
        elapsed = time.monotonic() - signalled
    finally:
        for ws in sockets:
            await ws.close()
    codes = {code for _, code in results}
    acked: set[str] = set()
    for n, (packets, _) in enumerate(results):
        acked |= acked_contents(packets, sent[n])
    stored = await _stored_contents(made.database)
    left = _presence_members(made.prefix)
    print(
        f"FIGURE --workers 2, {len(sockets)} sockets, {len(sockets) * MESSAGES} messages sent: "
        f"SIGTERM to exit {elapsed:.2f} s, {len(acked)} acked, {len(stored)} stored, "
        f"{left} presence entries left"
    )
    assert codes == {1012}, codes
    assert acked and stored == acked, (len(stored - acked), len(acked - stored))
    assert left == 0
    assert "did not stop" not in node.log, node.log[-3000:]
    assert status == 0 and elapsed < TIMEOUT, (status, elapsed)
