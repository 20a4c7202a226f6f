"""Raw Engine.IO / Socket.IO over a real WebSocket, frame by frame (no client library).

A hostile client sends what no library would; these helpers only do the handshake and
answer the server's pings, everything else is the test's own frames.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.hostile.process import ServerProcess


async def open_websocket(server: ServerProcess, cookie: str | None = None) -> ClientConnection:
    """An Engine.IO WebSocket, past its OPEN packet (no Socket.IO CONNECT yet)."""
    headers = {"Cookie": f"connect.sid={cookie}"} if cookie else {}
    ws = await websockets.connect(
        server.ws_url, additional_headers=headers, open_timeout=10, max_size=None
    )
    opening = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(opening, str) and opening.startswith("0{"), opening
    return ws


async def connected_socket(server: ServerProcess, cookie: str) -> ClientConnection:
    """A WebSocket with the Socket.IO CONNECT accepted."""
    ws = await open_websocket(server, cookie)
    await ws.send("40")
    reply = await next_packet(ws)
    assert reply.startswith("40{"), reply
    return ws


async def next_packet(ws: ClientConnection, timeout: float = 5) -> str:
    """The next Engine.IO packet that is not a ping (pings are answered)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        assert isinstance(frame, str), frame
        if frame == "2":
            await ws.send("3")
            continue
        return frame


async def next_event(ws: ClientConnection, name: str, timeout: float = 5) -> Any:
    """The payload of the next `name` event (other packets are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        packet = await next_packet(ws, max(0.01, deadline - time.monotonic()))
        if packet.startswith("42"):
            event = json.loads(packet[2:])
            if event[0] == name:
                return event[1] if len(event) > 1 else None


async def close_of(ws: ClientConnection, timeout: float = 5) -> int | None:
    """Wait for the server to close the socket: its close code (None: no close frame)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                frame = await ws.recv()
                if frame == "2":
                    await ws.send("3")
    except websockets.ConnectionClosed:
        rcvd = ws.protocol.close_rcvd
        return rcvd.code if rcvd is not None else None
