"""A WebSocket socket served by one task, its pings from one timer (service.realtime.receiving,
service.realtime.pings): the full app under uvicorn, real clients, raw WebSockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from service.app import App, create_app
from service.realtime.pings import Pings
from tests.realtime.test_direct_writes import (
    Member,
    arrived,
    clients,  # noqa: F401 - a fixture
    connect,
    public_server_with,
    signup,
)
from tests.support.clients import RecordingClient
from tests.support.deployment import make_settings
from tests.support.live import LiveServer, serve

pytestmark = pytest.mark.anyio


def _engineio(app: App) -> Any:
    assert app.realtime is not None
    return app.realtime.hub.sio.eio


def _awaiting(coro: Any) -> list[str]:
    """The names of the coroutines a suspended coroutine awaits, outermost first."""
    names: list[str] = []
    while coro is not None and len(names) < 100:
        names.append(getattr(coro, "__name__", type(coro).__name__))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return names


async def _tasks_of_the_server(live: LiveServer) -> list[list[str]]:
    """The coroutine names each task of the server's loop is suspended in."""

    async def stacks() -> list[list[str]]:
        return [_awaiting(task.get_coro()) for task in asyncio.all_tasks()]

    return live.call(stacks())


async def test_an_idle_websocket_socket_is_one_task_and_no_ping_task(
    tmp_path: Any,
    clients: list[RecordingClient],  # noqa: F811
) -> None:
    settings = make_settings(tmp_path, ping_interval_seconds=0.3, ping_timeout_seconds=2)
    app = create_app(settings)
    with serve(app) as live:
        sara, omar = await signup(live, "sara"), await signup(live, "omar")
        _, channel_id = await public_server_with(sara, omar)
        sockets = [await connect(live, m, clients) for m in (sara, omar, sara)]
        for c in sockets:
            assert (await c.call("channel:join", {"channelId": channel_id}))["ok"]
        await asyncio.sleep(1.0)  # three ping cycles: each socket has answered pings
        stacks = await _tasks_of_the_server(live)
        readers = [s for s in stacks if "receive_packets" in s]
        assert len(readers) == len(sockets)
        # No writer, no wait_for around each read, no sleeping ping task per socket.
        for name in ("writer", "websocket_wait", "_send_ping", "_websocket_handler"):
            assert not [s for s in stacks if name in s], name
        pings = _pings_of(app)
        assert len(pings) == len(sockets)  # each waits for its next ping
        assert pings.sent >= 2 * len(sockets)
        # ...and they still work as sockets: a message goes round, in order.
        for n in range(5):
            ack = await sockets[0].call(
                "message:create", {"channelId": channel_id, "content": f"m{n}"}
            )
            assert ack["ok"], ack
        got = await arrived(sockets[1], 5)
        assert [m["content"] for m in got] == [f"m{n}" for n in range(5)]
        for m in (sara, omar):
            await m.http.aclose()


def _pings_of(app: App) -> Pings:
    start = _engineio(app).start_background_task
    cell = next(c.cell_contents for c in start.__closure__ if isinstance(c.cell_contents, Pings))
    assert isinstance(cell, Pings)
    return cell


async def _raw(live: LiveServer, member: Member) -> Any:
    ws = await websockets.connect(
        live.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        additional_headers=member.headers,
        open_timeout=10,
    )
    opening = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(opening, str) and opening.startswith("0{")
    await ws.send("40")
    connected = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(connected, str) and connected.startswith("40{"), connected
    return ws


async def _until_closed(ws: Any) -> list[str]:
    """Every frame until the server closes the connection (10 s at most per frame)."""
    received: list[str] = []
    while True:
        try:
            frame = await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed:
            return received
        received.append(str(frame))


async def test_a_client_that_stops_answering_pings_is_closed_and_goes_offline(
    tmp_path: Any,
    clients: list[RecordingClient],  # noqa: F811
) -> None:
    # The reader waits for frames with no timeout of its own: python-engineio's ping
    # timeout closes the socket (no CLOSE packet: the library's send sees it closing), and
    # that must end the reading and the WebSocket at once, not leave the connection open.
    settings = make_settings(tmp_path, ping_interval_seconds=0.3, ping_timeout_seconds=0.4)
    app = create_app(settings)
    with serve(app) as live:
        sara, omar = await signup(live, "sara"), await signup(live, "omar")
        server_id, _ = await public_server_with(sara, omar)
        watcher = await connect(live, sara, clients)
        assert (await watcher.call("server:join", {"serverId": server_id}))["ok"]
        silent = await _raw(live, omar)
        await silent.send(f'421["server:join",{{"serverId":{server_id}}}]')
        started = asyncio.get_running_loop().time()
        received = await _until_closed(silent)
        elapsed = asyncio.get_running_loop().time() - started
        assert "2" in received  # pinged, never answered
        assert silent.close_code == 1000  # then a close frame, not a dropped connection
        assert elapsed < 5, elapsed
        # Its cleanup ran: the watcher sees Omar go offline.
        updates = watcher.named("presence:update")
        deadline = asyncio.get_running_loop().time() + 5
        while not updates or updates[-1]["onlineUserIds"] != [sara.id]:
            assert asyncio.get_running_loop().time() < deadline, updates
            await asyncio.sleep(0.05)
            updates = watcher.named("presence:update")
        assert _engineio(app).sockets.keys() == {watcher.sio.eio.sid}
        for m in (sara, omar):
            await m.http.aclose()


async def test_a_refused_handshake_still_closes_the_websocket(tmp_path: Any) -> None:
    app = create_app(make_settings(tmp_path))
    with serve(app) as live:
        ws = await websockets.connect(
            live.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
            open_timeout=10,
        )
        assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("0{")
        await ws.send("40")
        refusal = str(await asyncio.wait_for(ws.recv(), 5))
        assert refusal.startswith("44"), refusal
        assert json.loads(refusal[2:])["message"]
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1008
        assert _engineio(app).sockets == {}


# sha256 of the python-engineio 4.15 code that service.realtime.receiving and .pings stand
# in for or rely on: a release that changes one must be looked at before the cap moves.
MIRRORED = {
    "AsyncSocket._websocket_handler": "27f120df4d717a24",  # what receive_packets replaces
    "AsyncSocket._send_ping": "67db82a704ea49d0",  # what Pings does after the interval
    "AsyncSocket.schedule_ping": "fe316639159cd70d",  # how it is started (the hook)
    "AsyncSocket.close": "faa2e93902543244",  # what the close wrapper wraps
    "WebSocket.wait": "0346a1c9ebdafdff",  # OSError when the connection ends
}


def test_the_library_code_the_single_task_socket_stands_in_for_is_unchanged() -> None:
    import hashlib
    import inspect

    from engineio.async_drivers.asgi import WebSocket
    from engineio.async_socket import AsyncSocket

    owners = {"AsyncSocket": AsyncSocket, "WebSocket": WebSocket}
    for name, digest in MIRRORED.items():
        owner, attribute = name.split(".")
        source = inspect.getsource(getattr(owners[owner], attribute))
        assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest, name
    assert "self.server.start_background_task(self._send_ping)" in inspect.getsource(
        AsyncSocket.schedule_ping
    )
