"""The base of the generated emitter: every outbound payload is checked against its schema."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any, NewType

import socketio
from pydantic import BaseModel

from contract_runtime.errors import ContractError, EmitRejected
from contract_runtime.schemas import MAX_TEXT, SchemaRegistry, dump

SocketId = NewType("SocketId", str)
"""The Socket.IO id of one connection: the target of events on the `socket` channel."""

log = logging.getLogger("zizany.contract")


class EmitterBase:
    """Sends events after checking each payload once against its schema."""

    registry: SchemaRegistry
    error_events: Mapping[str, str]

    def __init__(self, sio: socketio.AsyncServer, *, strict: bool = True, validate: bool = True):
        self.sio = sio
        self.strict = strict
        self.validate = validate
        self.rejected: Counter[str] = Counter()

    def accept(self, key: str, data: Any) -> bool:
        """Whether `data` may go out as message `key`; counts, logs (and in strict mode raises)."""
        if not self.validate:
            return True
        problems = self.registry.problems(key, data)
        if not problems:
            return True
        self.rejected[key] += 1
        log.error("refused an off-spec %s payload: %s", key, problems)
        if self.strict:
            raise EmitRejected(f"{key} payload does not match the spec: {problems}")
        return False

    async def _send(
        self,
        event: str,
        payload: BaseModel,
        to: str,
        skip_sid: str | None = None,
    ) -> None:
        data = dump(payload)
        if self.accept(event, data):
            await self.sio.emit(event, data, to=to, skip_sid=skip_sid)

    async def send_error(self, to: SocketId, error: ContractError, *, event: str) -> None:
        """Send the error event that the spec assigns to `error.code`."""
        error_event = self.error_events[error.code]
        allowed = self.registry.schema(error_event).get("properties", {})
        data: dict[str, Any] = {"code": error.code, "event": event, "message": error.message}
        data.update(error.extra)
        data = {k: v for k, v in data.items() if k in allowed}
        if isinstance(data.get("message"), str):
            data["message"] = data["message"][:MAX_TEXT]
        if self.accept(error_event, data):
            await self.sio.emit(error_event, data, to=to)
