"""DirectFanoutManager's index of each socket's rooms agrees with python-socketio's rooms.

The library finds a socket's rooms by testing every room of the namespace; the manager
keeps them per socket. Random sequences of the operations the server uses (connect,
enter, leave, close a room, disconnect) must leave both views equal, and a disconnect
must not look at the other sockets' rooms.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import socketio

from service.realtime.fanout import DirectFanoutManager

NS = "/"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def manager() -> DirectFanoutManager:
    made = DirectFanoutManager()
    socketio.AsyncServer(async_mode="asgi", client_manager=made)
    return made


def scanned_rooms(m: DirectFanoutManager, sid: str) -> list[Any]:
    """The library's answer: every room of the namespace that holds the socket."""
    return sorted(socketio.AsyncManager.get_rooms(m, sid, NS), key=str)


def check(m: DirectFanoutManager, sids: list[str]) -> None:
    for sid in sids:
        assert sorted(m.get_rooms(sid, NS), key=str) == scanned_rooms(m, sid), sid
    indexed = {(sid, room) for sid, rooms in m.joined.get(NS, {}).items() for room in rooms}
    actual = {(sid, room) for room, members in m.rooms.get(NS, {}).items() for sid in members}
    assert indexed == actual


@pytest.mark.parametrize("seed", range(20))
async def test_the_index_follows_every_operation(seed: int) -> None:
    rng = random.Random(seed)
    m = manager()
    sids: list[str] = []
    rooms = [f"channel:{n}" for n in range(6)] + [f"server:{n}" for n in range(3)]
    for _ in range(300):
        op = rng.random()
        if op < 0.2 or not sids:
            sid = await m.pre_connect(f"eio-{len(sids)}-{rng.random()}", NS)
            assert sid is not None
            await m.connect(sid, NS)
            sids.append(sid)
        elif op < 0.55:
            m.basic_enter_room(rng.choice(sids), NS, rng.choice(rooms))
        elif op < 0.8:
            m.basic_leave_room(rng.choice(sids), NS, rng.choice(rooms))
        elif op < 0.9:
            m.basic_close_room(rng.choice(rooms), NS)
        else:
            sid = rng.choice(sids)
            m.basic_disconnect(sid, NS)
            sids.remove(sid)
            assert m.get_rooms(sid, NS) == [] and not m.is_connected(sid, NS)
        check(m, sids)


async def test_a_disconnect_touches_only_the_sockets_own_rooms() -> None:
    m = manager()
    sids = []
    for n in range(50):
        sid = await m.pre_connect(f"eio-{n}", NS)
        assert sid is not None
        await m.connect(sid, NS)
        m.basic_enter_room(sid, NS, "server:1")
        sids.append(sid)

    class NoScans(dict[Any, Any]):
        def copy(self) -> dict[Any, Any]:
            raise AssertionError("disconnect scanned every room of the namespace")

        def items(self) -> Any:
            raise AssertionError("a socket's rooms were found by testing every room")

    m.rooms[NS] = NoScans(m.rooms[NS])
    m.basic_disconnect(sids[0], NS)
    assert "server:1" in m.get_rooms(sids[1], NS)
    assert sids[0] not in dict.__getitem__(m.rooms[NS], "server:1")
