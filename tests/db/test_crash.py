"""A crash under load loses no acknowledged message (the group-commit writer answers after
its commit).

`zizany serve` as a real process on SQLite and on PostgreSQL; several python-socketio
clients send `message:create` as fast as the server answers (many in flight each); the
server is SIGKILLed mid-flight, restarted on the same database, and the database is read
back: every message acknowledged `ok` before the kill is there exactly once, nothing is
there twice, and nothing is there that was not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import text

from service.db.engine import create_engine
from service.settings import Settings
from tests.hostile.process import ServerProcess, create_public_server, join_server, signup

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SENDERS = 4
IN_FLIGHT = 16  # per sender: messages sent and not yet acknowledged
RUN_SECONDS = 2.0


def start(data_dir: Path, database_url: str) -> ServerProcess:
    return ServerProcess(
        data_dir,
        {
            "ZIZANY_DATABASE_URL": database_url,
            "ZIZANY_MESSAGE_RATE_LIMIT": "1000000",
            "ZIZANY_LOG_LEVEL": "WARNING",
        },
    )


class Sender:
    """One socket sending numbered messages, at most IN_FLIGHT unanswered at a time."""

    def __init__(self, name: str, cookie: str, channel_id: int) -> None:
        self.name = name
        self.cookie = cookie
        self.channel_id = channel_id
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sent: list[str] = []
        self.acked_ok: list[str] = []
        self.refused: list[Any] = []
        self.running = True

    async def run(self, url: str) -> None:
        await self.sio.connect(
            url, headers={"Cookie": f"connect.sid={self.cookie}"}, transports=["websocket"]
        )
        slots = asyncio.Semaphore(IN_FLIGHT)
        n = 0
        while self.running and self.sio.connected:
            await slots.acquire()
            content = f"crash|{self.name}|{n}"
            n += 1

            def answered(reply: Any, content: str = content) -> None:
                if isinstance(reply, dict) and reply.get("ok"):
                    self.acked_ok.append(content)
                else:
                    self.refused.append(reply)
                slots.release()

            self.sent.append(content)
            try:
                await self.sio.emit(
                    "message:create",
                    {"channelId": self.channel_id, "content": content},
                    callback=answered,
                )
            except socketio.exceptions.SocketIOError:
                break

    async def close(self) -> None:
        self.running = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sio.disconnect(), 5)


def first_channel(url: str, cookie: str, server_id: int) -> int:
    r = httpx.get(
        f"{url}/api/servers/{server_id}/channels", cookies={"connect.sid": cookie}, timeout=10
    )
    channel_id: int = r.json()["channels"][0]["id"]
    return channel_id


def history_status(url: str, cookie: str, channel_id: int) -> int:
    r = httpx.get(
        f"{url}/api/channels/{channel_id}/messages",
        params={"limit": 1},
        cookies={"connect.sid": cookie},
        timeout=10,
    )
    return r.status_code


async def stored(database_url: str, data_dir: Path, channel_id: int) -> list[str]:
    engine = create_engine(Settings(database_url=database_url, data_dir=data_dir))
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT content FROM messages WHERE channel_id = :c ORDER BY id"),
                {"c": channel_id},
            )
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def test_every_message_acknowledged_before_a_sigkill_is_stored_once_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    server = start(tmp_path, database_url)
    try:
        owner = signup(server.url, "owner")
        server_id = create_public_server(server.url, owner, "crash")
        channel_id = first_channel(server.url, owner, server_id)
        senders = []
        for i in range(SENDERS):
            cookie = signup(server.url, f"sender{i}")
            join_server(server.url, cookie, server_id)
            senders.append(Sender(f"s{i}", cookie, channel_id))

        tasks = [asyncio.create_task(s.run(server.url)) for s in senders]
        deadline = time.monotonic() + RUN_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            for t in tasks:
                if t.done():
                    t.result()  # a sender that failed early fails the test with its error
        # Mid-flight: every sender has messages sent and not yet answered.
        assert all(len(s.sent) > len(s.acked_ok) for s in senders)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        # What was acknowledged before the kill; nothing can be acknowledged after it.
        acked = {s.name: list(s.acked_ok) for s in senders}
        for t in tasks:
            t.cancel()  # a sender waits on acks that will never come
        await asyncio.gather(*tasks, return_exceptions=True)
        for s in senders:
            await s.close()
    finally:
        server.stop()

    restarted = start(tmp_path, database_url)
    try:
        # The restarted server serves the history, and it is the database's.
        assert history_status(restarted.url, owner, channel_id) == 200
    finally:
        restarted.stop()

    rows = await stored(database_url, tmp_path, channel_id)
    counts = Counter(rows)
    sent = {c for s in senders for c in s.sent}
    total_acked = sum(len(a) for a in acked.values())
    assert total_acked >= SENDERS * 10, f"only {total_acked} acknowledged: no load"
    assert not [c for c, n in counts.items() if n > 1], "a message stored twice"
    assert set(rows) <= sent
    print(f"acked ok before the kill {total_acked}, sent {len(sent)}, stored {len(rows)}")
    missing = [c for a in acked.values() for c in a if c not in counts]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:3]}"
    # Each sender's stored messages are a prefix of what it sent plus, at most, the
    # messages in flight at the kill (committed, not yet answered): order kept.
    for s in senders:
        mine = [c for c in rows if c.startswith(f"crash|{s.name}|")]
        seqs = [int(c.rsplit("|", 1)[1]) for c in mine]
        assert seqs == sorted(seqs)
        assert len(mine) - len(acked[s.name]) <= IN_FLIGHT
