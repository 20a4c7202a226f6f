"""In-process experiments: proposed changes, applied to a bench server with `BENCH_PATCHES`.

Each patch measures a change proposed for a file this folder must not edit (the service,
the generated runtime); the bench compares a patched server with an unpatched one.

- `fanout`: a room broadcast hands each recipient's Engine.IO socket the already encoded
  packet directly, instead of one asyncio task per recipient (python-socketio's
  `AsyncManager.emit` creates and awaits a task per recipient).
- `store`: `message:create` builds the wire message from the inserted row and the
  principal's username instead of reading the message back with a second query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _patch_fanout() -> None:
    import socketio
    from engineio import packet as eio_packet
    from socketio import packet

    original = socketio.AsyncManager.emit

    async def emit(
        self: Any,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await original(self, event, data, namespace, room, skip_sid, callback, to, **kwargs)
            return
        room = to or room
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            data = list(data)
        elif data is not None:
            data = [data]
        else:
            data = []
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *data]
        ).encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        eio_pkts = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in encoded]
        eio = self.server.eio
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid in skip:
                continue
            sock = eio.sockets.get(eio_sid)
            if sock is None:
                continue
            for p in eio_pkts:
                # In turn, no task: `send` puts on an unbounded queue and does not block.
                await sock.send(p)

    socketio.AsyncManager.emit = emit


def _patch_store() -> None:
    from generated.realtime.models import Message, MessageCreate, MessageCreateOk, UserSummary
    from generated.realtime.rooms import channel_room
    from service.db import channels, messages
    from service.db.timestamps import to_wire_timestamp
    from service.errors import ChannelNotFound, Forbidden
    from service.realtime.handlers import Ctx, ZizanyHandlers

    async def on_message_create(
        self: ZizanyHandlers, ctx: Ctx, payload: MessageCreate
    ) -> MessageCreateOk:
        rt = self.rt
        user_id = ctx.principal.user_id
        await rt.check_message_rate(user_id)
        async with rt.sessionmaker() as session:
            access = await channels.get_channel_access(
                session=session, channel_id=payload.channelId, user_id=user_id
            )
            if access is None:
                raise ChannelNotFound(payload.channelId)
            if access.role is None:
                raise Forbidden(f"not a member of the server of channel {payload.channelId!r}")
            row = await messages.create_message(
                session=session,
                channel_id=payload.channelId,
                user_id=user_id,
                content=payload.content.strip(),
            )
            await session.commit()
        assert row.id is not None
        message = Message(
            id=row.id,
            channel_id=row.channel_id,
            content=row.content,
            created_at=to_wire_timestamp(row.created_at),
            updated_at=to_wire_timestamp(row.updated_at),
            user=UserSummary(id=user_id, username=ctx.principal.username),
        )
        await self.emit.message_new(channel_room(payload.channelId), message)
        return MessageCreateOk(ok=True, message=message)

    ZizanyHandlers.on_message_create = on_message_create  # type: ignore[method-assign]


PATCHES = {"fanout": _patch_fanout, "store": _patch_store}


def apply(names: Sequence[str]) -> None:
    """Apply the named patches (before the app is built)."""
    for name in names:
        PATCHES[name]()
