"""A socket that judges everything it receives against spec/asyncapi.yaml.

The rules tests are black-box: REST over HTTP, Socket.IO over a real connection, and the
contract as `conformance.spec` reads it from the document. A `Watched` client listens with
a catch-all handler, so it sees every event the server sends it, declared or not, typed
emitter or raw `sio.emit`; each one, and each ack, is checked as it arrives:

- the event is declared in the spec as a server → client message, and its payload is
  valid against that message's schema;
- an ack is valid against the operation's reply schema;
- an error (error event or failed ack) carries a code the operation it answers lists in
  `x-errors`, on the error event that the spec assigns to that code; and never
  `E_INTERNAL`: these tests inject no fault, so an internal error means the server broke
  (an off-spec emit refused, an undeclared code mapped to `E_INTERNAL`, a crash);
- a room event is for a room this socket is in: one it asked to join and has not left
  since (by `*:leave`, by being removed from the server, or by the room's deletion).

The judgement is `problems`; the fixtures assert it is empty when each test ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.spec import Contract
from tests.support.clients import RecordingClient

INTERNAL = "E_INTERNAL"


@dataclass
class Map:
    """What the test knows of the world: the server of each channel (by id)."""

    server_of: dict[int, int] = field(default_factory=dict)

    def channels_of(self, server_id: int) -> set[int]:
        return {c for c, s in self.server_of.items() if s == server_id}


class Watched(RecordingClient):
    """A RecordingClient of one user that checks every event and ack against the contract."""

    def __init__(self, contract: Contract, world: Map, *, user_id: int, name: str) -> None:
        super().__init__()
        self.contract = contract
        self.world = world
        self.user_id = user_id
        self.name = name
        self.rooms: set[str] = set()
        self.problems: list[str] = []

    # ---- what the test sends -------------------------------------------------------------

    async def call(self, event: str, payload: Any, timeout: float = 10) -> Any:
        """Emit with an ack; the ack is judged, and joins/leaves tracked, before it returns."""
        target = self.contract.target_room(event, payload)
        if target is not None and target[0] == "enter":
            # In the room from the moment the server may put it there: a broadcast can
            # arrive between the server's enter_room and the ack.
            self.rooms.add(target[1])
        ack = await super().call(event, payload, timeout=timeout)
        self._judge_ack(event, ack)
        if target is not None:
            verb, room = target
            ok = isinstance(ack, Mapping) and ack.get("ok") is True
            if verb == "leave" or not ok:
                self.rooms.discard(room)
        return ack

    # ---- what the server sends -----------------------------------------------------------

    async def _record(self, event: str, data: Any = None) -> None:
        self._judge_event(event, data)
        await super()._record(event, data)

    def _flag(self, text: str) -> None:
        self.problems.append(f"{self.name}: {text}")

    def _judge_event(self, event: str, data: Any) -> None:
        contract = self.contract
        op = contract.send.get(event)
        if op is None:
            self._flag(f"received {event!r}, which the spec does not declare: {data!r}")
            return
        for problem in contract.payload_problems(event, data):
            self._flag(f"{event} payload off its schema ({problem}): {data!r}")
        if contract.is_error_event(event) and isinstance(data, Mapping):
            self._judge_error(str(data.get("event")), data.get("code"), event, data)
        if op.room is not None:
            room = contract.room_for(event, data)
            if room is not None and room not in self.rooms:
                self._flag(f"{event} for {room}, a room this socket is not in: {data!r}")
        self._follow_revocations(event, data)

    def _judge_ack(self, event: str, ack: Any) -> None:
        if event not in self.contract.receive:
            return  # the test sent an undeclared event on purpose; there is no reply schema
        for problem in self.contract.reply_problems(event, ack):
            self._flag(f"{event} ack off its schema ({problem}): {ack!r}")
        if isinstance(ack, Mapping) and ack.get("ok") is False:
            self._judge_error(event, ack.get("code"), None, ack)

    def _judge_error(self, event: str, code: Any, carrier: str | None, data: Any) -> None:
        """A code the operation declares, on the error event the spec gives it; not internal."""
        if code == INTERNAL:
            self._flag(f"{event} failed with {INTERNAL} (no fault was injected): {data!r}")
        op = self.contract.receive.get(event)
        if op is not None and code not in op.errors:
            self._flag(f"{event} answered {code!r}, not in its x-errors {sorted(op.errors)}")
        if carrier is not None and self.contract.error_event_for(str(code)) != carrier:
            self._flag(f"{code!r} arrived on {carrier!r}, not on the event the spec gives it")

    def _follow_revocations(self, event: str, data: Any) -> None:
        """Rooms the server empties: a deleted server's or channel's, a removed member's."""
        if not isinstance(data, Mapping):
            return
        rules = self.contract.rules
        entity, _, action = event.partition(":")
        room = self.contract.room_of_entity(entity)
        if room is None:
            return
        value = room.value_in(data, event=event)
        if value is None:
            return
        about_me = any(data.get(key) == self.user_id for key in rules.user_keys)
        if action == rules.deleted_action or (action == rules.member_left_action and about_me):
            self.rooms.discard(room.name(value))
            if entity == "server":
                channel_room = self.contract.room_of_entity("channel")
                assert channel_room is not None
                for channel_id in self.world.channels_of(value):
                    self.rooms.discard(channel_room.name(channel_id))
