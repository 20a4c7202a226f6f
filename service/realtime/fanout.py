"""A Socket.IO client manager whose room broadcasts are encoded and framed once.

python-socketio's `AsyncManager.emit` encodes a broadcast once (good) but then creates
and awaits one asyncio task per recipient, and each recipient's send goes through its
queue, its writer task and a WebSocket framing of its own. Here the packet is encoded
once, framed once (`service.realtime.direct`), and the same bytes are written to every
WebSocket recipient whose socket has nothing pending; the others (long-polling, a busy
writer) get the Engine.IO packet on their queue as the library does, in turn, without a
task per recipient. Emits with a callback keep the library's path (each recipient
needs its own ack id).

The rooms of a socket are indexed (`joined`): python-socketio finds them by testing every
room of the namespace (`get_rooms`, and `basic_disconnect`'s scan), and every socket has a
room of its own. Every `message:create` asks whether its socket is in the channel's room,
and a mass disconnect (a restart, a network blip) was quadratic: at 5,000 sockets the
bench's teardown spent a tenth of the process's CPU in those scans.

`muted` sockets get no room broadcasts (events to their own sid still go): the sockets
about to be dropped after a pub/sub gap (service.realtime.resync), so that nothing newer
than the gap reaches them and their clients' catch-up starts before what they missed.
While `rooms_paused` (a process whose pub/sub subscription is down), no socket gets room
broadcasts, for the same reason: one of this process's own events, delivered while
another process's are lost, would move a client's cursor past them.
"""

from __future__ import annotations

from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet

from service import metrics
from service.realtime.direct import DirectQueue, text_frame


class DirectFanoutManager(socketio.AsyncManager):  # type: ignore[misc]
    """`AsyncManager` with a broadcast framed once and written without a task per recipient."""

    muted: set[str]
    """Sockets that get no room broadcasts until they are dropped (set by Resync)."""

    rooms_paused: bool
    """No socket gets room broadcasts (the pub/sub subscription is down)."""

    joined: dict[str, dict[str, list[Any]]]
    """namespace → sid → the rooms it is in (its own and the `None` room included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.muted = set()
        self.rooms_paused = False
        self.joined = {}

    # ---- the rooms of a socket, in the time of its own rooms ------------------------------

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        """As the library does, and the room added to the socket's index."""
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        rooms = self.joined.setdefault(namespace, {}).setdefault(sid, [])
        if room not in rooms:
            rooms.append(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        """As the library does, and the room removed from the socket's index."""
        super().basic_leave_room(sid, namespace, room)
        by_sid = self.joined.get(namespace, {})
        rooms = by_sid.get(sid)
        if rooms is None or room not in rooms:
            return
        rooms.remove(room)
        if not rooms:
            del by_sid[sid]
            if not by_sid:
                self.joined.pop(namespace, None)

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        """The rooms the socket is in (its own included), from the index."""
        rooms = self.joined.get(namespace, {}).get(sid, ())
        return [room for room in rooms if room is not None]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """The library's `basic_disconnect` (python-socketio 5.18, checked by
        tests/scaleout/test_socketio_hooks.py), with the socket's rooms from the index
        instead of a test of every room of the namespace."""
        if namespace not in self.rooms:
            return
        for room in list(self.joined.get(namespace, {}).get(sid, ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Encode and frame once, then hand each recipient's socket the same bytes."""
        if callback is not None:
            await super().emit(
                event,
                data,
                namespace,
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                to=to,
                **kwargs,
            )
            return
        room = to or room
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
        # One text frame when the packet has no binary attachments (the contract has none).
        frame = text_frame(b"4" + encoded.encode()) if isinstance(encoded, str) else None
        eio = self.server.eio
        sockets = eio.sockets
        delivered = 0
        muted, paused = self.muted, self.rooms_paused
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid in skip or ((paused or (muted and sid in muted)) and room != sid):
                continue
            delivered += 1
            if frame is not None:
                socket = sockets.get(eio_sid)
                queue = getattr(socket, "queue", None)
                if isinstance(queue, DirectQueue) and queue.try_write(frame):
                    continue
            for pkt in packets:
                await eio.send_packet(eio_sid, pkt)
        metrics.broadcast_delivered(event, delivered)
