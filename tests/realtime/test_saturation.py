"""Overload: new messages are refused (E_RATE_LIMITED) while the process is saturated.

The full app under uvicorn (tests.live), real python-socketio clients over WebSocket, the
SQLite database read back over REST. The writer is slowed where a test needs the
database to fall behind (its statement waits), so saturation comes on cue.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.chat.saturation import Bounds, Saturation
from service.db.message_writer import MessageWriter, NewMessage, StoredMessage
from tests.realtime.test_direct_writes import public_server_with, signup
from tests.support.clients import RecordingClient
from tests.support.deployment import make_settings
from tests.support.live import serve

pytestmark = pytest.mark.anyio


@pytest.fixture
async def clients() -> AsyncIterator[list[RecordingClient]]:
    made: list[RecordingClient] = []
    yield made
    for c in made:
        await c.close()


class SlowWriter:
    """Slows every batch of the writer by `delay` and records the most it held pending
    (and the most `probe()` said, when given)."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        delay: float,
        probe: Callable[[], int] = lambda: 0,
    ) -> None:
        self.delay = delay
        self.max_pending = 0
        self.max_probed = 0
        original = MessageWriter._insert
        recorder = self

        async def slowed(
            writer: MessageWriter, messages: list[NewMessage], now: Any
        ) -> list[StoredMessage]:
            recorder.max_pending = max(recorder.max_pending, writer.pending)
            recorder.max_probed = max(recorder.max_probed, probe())
            await asyncio.sleep(recorder.delay)
            return await original(writer, messages, now)

        monkeypatch.setattr(MessageWriter, "_insert", slowed)


def stored_contents(data_dir: Path, channel_id: int) -> list[str]:
    """Every message of the channel in id order, read from the SQLite file."""
    with contextlib.closing(sqlite3.connect(data_dir / "zizany.db")) as db:
        rows = db.execute(
            "SELECT content FROM messages WHERE channel_id = ? ORDER BY id", (channel_id,)
        )
        return [row[0] for row in rows]


async def flood(client: RecordingClient, channel_id: int, contents: list[str]) -> list[Any]:
    """Send every message without waiting for the previous ack; the acks, in order."""
    return await asyncio.gather(
        *(
            client.call("message:create", {"channelId": channel_id, "content": c}, timeout=60)
            for c in contents
        )
    )


def outcome(acks: list[Any], contents: list[str]) -> tuple[list[str], list[Any]]:
    accepted = [c for c, a in zip(contents, acks, strict=True) if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    return accepted, refused


async def test_a_flood_beyond_the_writer_bound_is_partly_refused_and_every_ok_is_stored_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clients: list[RecordingClient]
) -> None:
    slow = SlowWriter(monkeypatch, delay=0.15)
    app = create_app(make_settings(tmp_path, saturation_max_pending_messages=4))
    with serve(app) as live:
        owner = await signup(live, "owner")
        senders = [await signup(live, f"s{i}") for i in range(10)]
        _, channel_id = await public_server_with(owner, *senders)
        socks = []
        for member in senders:
            c = RecordingClient()
            await c.connect(live.url, headers=member.headers)
            clients.append(c)
            assert (await c.call("channel:join", {"channelId": channel_id}))["ok"]
            socks.append(c)

        contents = [[f"s{i}-{n}" for n in range(6)] for i in range(len(socks))]
        acks = await asyncio.gather(
            *(flood(c, channel_id, cs) for c, cs in zip(socks, contents, strict=True))
        )
        accepted: list[str] = []
        refused: list[Any] = []
        for a, cs in zip(acks, contents, strict=True):
            ok, no = outcome(a, cs)
            accepted += ok
            refused += no

        assert refused, "ten sockets against a writer bound of 4: some must be refused"
        assert accepted, "the writer still stores what it admits"
        assert {a["code"] for a in refused} == {"E_RATE_LIMITED"}
        assert all(a["retryAfterMs"] == 1000 for a in refused)
        # The writer never held more than its bound (pending counts the batch under way).
        assert slow.max_pending <= 4
        assert app.parts.saturation.refused["writer"] == len(refused)
        # Each refusal also came as error:rate_limited on its socket.
        errors = sum(len(c.named("error:rate_limited")) for c in socks)
        assert errors == len(refused)
        # Stored: exactly the acknowledged messages, once each; a refused one nowhere.
        stored = stored_contents(tmp_path, channel_id)
        assert sorted(stored) == sorted(accepted)
        assert len(set(stored)) == len(stored)
        # Each sender's accepted messages keep their order.
        for cs in contents:
            mine = [s for s in stored if s in set(cs)]
            assert mine == [c for c in cs if c in set(mine)]
        for m in (owner, *senders):
            await m.http.aclose()


async def test_a_sender_faster_than_the_server_gets_refusals_and_the_rest_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clients: list[RecordingClient]
) -> None:
    SlowWriter(monkeypatch, delay=0.1)
    app = create_app(make_settings(tmp_path, saturation_max_queue_delay_seconds=0.35))
    with serve(app) as live:
        sara, omar = await signup(live, "sara"), await signup(live, "omar")
        _, channel_id = await public_server_with(sara, omar)
        sender, reader = RecordingClient(), RecordingClient()
        for c, m in ((sender, sara), (reader, omar)):
            await c.connect(live.url, headers=m.headers)
            clients.append(c)
            assert (await c.call("channel:join", {"channelId": channel_id}))["ok"]

        # 40 messages at once, each store takes 0.1 s: the later ones wait past 0.35 s.
        contents = [f"m{i}" for i in range(40)]
        t0 = time.monotonic()
        acks = await flood(sender, channel_id, contents)
        elapsed = time.monotonic() - t0
        accepted, refused = outcome(acks, contents)

        assert refused and accepted
        assert {a["code"] for a in refused} == {"E_RATE_LIMITED"}
        assert app.parts.saturation.refused["queue"] == len(refused)
        # Refusing is cheap: far less than 40 stores of 0.1 s.
        assert elapsed < 0.1 * len(contents)
        # The reader gets exactly the accepted ones, in sending order; so does the database.
        got = await reader.wait_for("message:new", count=len(accepted), timeout=30)
        assert [m["content"] for m in got] == accepted
        assert stored_contents(tmp_path, channel_id) == accepted
        # Once the backlog is gone the sender is served again.
        ack = await sender.call("message:create", {"channelId": channel_id, "content": "later"})
        assert ack["ok"], ack
        for m in (sara, omar):
            await m.http.aclose()


async def test_a_client_that_never_waits_for_acks_holds_a_bounded_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clients: list[RecordingClient]
) -> None:
    app = create_app(make_settings(tmp_path, saturation_max_waiting_events=20))
    assert app.realtime is not None
    dispatcher = app.realtime.dispatcher
    slow = SlowWriter(
        monkeypatch, delay=0.05, probe=lambda: max(dispatcher._waiting.values(), default=0)
    )
    with serve(app) as live:
        sara = await signup(live, "sara")
        _, channel_id = await public_server_with(sara)
        sender = RecordingClient()
        await sender.connect(live.url, headers=sara.headers)
        clients.append(sender)
        assert (await sender.call("channel:join", {"channelId": channel_id}))["ok"]

        contents = [f"m{i}" for i in range(200)]
        acks = await flood(sender, channel_id, contents)
        accepted, refused = outcome(acks, contents)

        assert accepted and refused
        assert {(a["code"], a["retryAfterMs"]) for a in refused} == {("E_RATE_LIMITED", 1000)}
        assert dispatcher.overflowed == len(refused)
        # Never more than the bound waited (the one being handled holds its place too).
        assert slow.max_probed <= 20
        assert app.realtime.counters()["saturation_refused:backlog"] == len(refused)
        # What was refused changed nothing; what was accepted is stored once, in order.
        assert stored_contents(tmp_path, channel_id) == accepted
        await sara.http.aclose()


async def test_a_lagging_event_loop_refuses_new_messages_until_it_recovers(
    tmp_path: Path, clients: list[RecordingClient]
) -> None:
    app = create_app(make_settings(tmp_path, saturation_max_loop_lag_seconds=0.05))
    with serve(app) as live:
        sara = await signup(live, "sara")
        _, channel_id = await public_server_with(sara)
        sender = RecordingClient()
        await sender.connect(live.url, headers=sara.headers)
        clients.append(sender)
        assert (await sender.call("channel:join", {"channelId": channel_id}))["ok"]
        assert (await sender.call("message:create", {"channelId": channel_id, "content": "a"}))[
            "ok"
        ]

        async def hog() -> None:
            block(1.0)  # holds the server's event loop, as CPU-bound overload does

        live.call(hog())
        ack = await sender.call("message:create", {"channelId": channel_id, "content": "b"})
        assert ack["ok"] is False and ack["code"] == "E_RATE_LIMITED", ack
        assert app.parts.saturation.refused["lag"] >= 1
        # REST posts are refused alike (429 with Retry-After).
        r = await sara.http.post(f"/api/channels/{channel_id}/messages", json={"content": "c"})
        if r.status_code != 201:  # the lag may already have decayed by now
            assert r.status_code == 429 and r.headers["Retry-After"] == "1", r.text
        # The smoothed lag decays within a second or two of normal ticks.
        deadline = time.monotonic() + 10
        while True:
            ack = await sender.call("message:create", {"channelId": channel_id, "content": "d"})
            if ack["ok"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert ack["ok"], ack
        stored = stored_contents(tmp_path, channel_id)
        assert "b" not in stored and stored[0] == "a" and stored[-1] == "d"
        await sara.http.aclose()


def block(seconds: float) -> None:
    """Keep the calling thread busy (the server's loop, when called on it)."""
    time.sleep(seconds)


def test_the_lag_is_smoothed_one_slow_tick_does_not_trip_a_sustained_lag_does() -> None:
    saturation = Saturation(Bounds(max_loop_lag_seconds=0.2))
    saturation.observe_lag(1.5)  # one GC pause or busy neighbour
    saturation.admit()
    for _ in range(10):
        saturation.observe_lag(0.5)
    with pytest.raises(Exception, match="busy") as refused:
        saturation.admit()
    assert getattr(refused.value, "code", None) == "E_RATE_LIMITED"
    for _ in range(40):
        saturation.observe_lag(0.0)
    saturation.admit()
    assert saturation.refused == {"writer": 0, "lag": 1, "queue": 0}


def test_the_writer_bound_counts_the_batch_under_way() -> None:
    pending = [0]
    saturation = Saturation(Bounds(max_pending_messages=3), pending=lambda: pending[0])
    pending[0] = 2
    saturation.admit()
    pending[0] = 3
    with pytest.raises(Exception, match="writer"):
        saturation.admit()
