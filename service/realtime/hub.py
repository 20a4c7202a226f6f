"""The Socket.IO server: the AsyncServer, the generated emitter, and its JSON codec.

Every emit of the service goes through `Hub.emitter` (typed, validated against the
contract); the dispatcher that runs the handlers is bound in service.realtime.assembly.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import socketio

from generated.realtime.emitter import Emitter
from service.realtime.direct import SendBounds, enable_direct_writes
from service.settings import Settings


class OrjsonJSON:
    """The json module python-socketio calls, backed by orjson (str out, as it expects)."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        """Encode to a str."""
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        """Decode; what orjson refuses (e.g. integers beyond 64 bits) goes to json.

        A payload with such a number must reach validation (and get error:validation),
        not be dropped as undecodable.
        """
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return json.loads(data)


class Hub:
    """The AsyncServer and its emitter; `client_manager` fans emits out (one or more processes)."""

    def __init__(self, *, settings: Settings, client_manager: socketio.AsyncManager) -> None:
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=client_manager,
            cors_allowed_origins=list(settings.allowed_origins),
            cors_credentials=True,
            json=OrjsonJSON,
            transports=["polling", "websocket"],
            max_http_buffer_size=settings.max_body_bytes,
            ping_interval=settings.ping_interval_seconds,
            ping_timeout=settings.ping_timeout_seconds,
        )
        enable_direct_writes(
            self.sio, SendBounds(settings.max_send_buffer_bytes, settings.max_send_queue_packets)
        )
        self.emitter = Emitter(
            self.sio, strict=settings.strict_emits, validate=settings.validate_emits
        )
        self.emitter.registry.compile_all()

    def start(self) -> None:
        """Start the client manager (e.g. its pub/sub listener) before serving."""
        if not self.sio.manager_initialized:
            self.sio.manager_initialized = True
            self.sio.manager.initialize()

    def counters(self) -> dict[str, int]:
        """Emits the emitter refused, by event."""
        return {f"emit_rejected:{key}": value for key, value in self.emitter.rejected.items()}
