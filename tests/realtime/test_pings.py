"""One timer for every socket's next ping (service.realtime.pings), on a real event loop."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from engineio import packet as eio_packet

from service.realtime.lean import LeanQueue
from service.realtime.pings import Pings

pytestmark = pytest.mark.anyio


class FakeSocket:
    """What Pings reads and writes of an Engine.IO socket."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.closing = False
        self.closed = False
        self.last_ping: float | None = None
        self.queue = LeanQueue()

    def pinged(self) -> int:
        count = 0
        while not self.queue.empty():
            item: Any = self.queue.get_nowait()
            assert item.packet_type == eio_packet.PING
            count += 1
        return count


async def test_each_open_socket_is_pinged_once_per_schedule_in_order_and_closed_ones_not() -> None:
    pings = Pings(0.05)
    sockets = [FakeSocket(f"s{n}") for n in range(5)]
    sockets[1].closed = True
    sockets[2].closing = True
    for s in sockets:
        pings.schedule(s)
        await asyncio.sleep(0.005)
    assert len(pings) == 5
    await asyncio.sleep(0.02)
    assert sockets[0].pinged() == 0  # not before its interval
    await asyncio.sleep(0.1)
    assert [s.pinged() for s in sockets] == [1, 0, 0, 1, 1]
    assert all(s.last_ping is not None for s in (sockets[0], sockets[3], sockets[4]))
    assert len(pings) == 0 and pings.sent == 3
    pings.schedule(sockets[0])  # a pong schedules the next one: the timer starts again
    await asyncio.sleep(0.1)
    assert sockets[0].pinged() == 1


async def test_a_socket_gone_meanwhile_is_not_kept_alive_by_its_pending_ping() -> None:
    pings = Pings(0.05)
    gone = FakeSocket("gone")
    kept = FakeSocket("kept")
    pings.schedule(gone)
    pings.schedule(kept)
    del gone
    gc.collect()
    await asyncio.sleep(0.1)
    assert kept.pinged() == 1 and pings.sent == 1
