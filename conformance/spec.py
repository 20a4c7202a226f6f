"""The AsyncAPI contract as the runner needs it, read from the document at run time.

Nothing here names an event, a field or an error code of Zizany: receive operations with
their payload and reply schemas and `x-errors`, send operations with the room they go to
and `x-socketio-exclude-sender`, and the error events with their codes all come from the
document. The few conventions the document does not state in machine-readable form
(which operations join or leave a room, which events revoke a socket's rooms) are named
in one place, `RoomRules`, and only ever matched against what the document declares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema

from codegen.loader import deref, load_yaml

Json = Any

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def snake(name: str) -> str:
    """`serverId` → `server_id`."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def entity_of(event: str) -> str:
    """The entity an event is about: `channel:deleted` → `channel`."""
    return event.split(":", 1)[0]


def action_of(event: str) -> str:
    """What happened to the entity: `channel:deleted` → `deleted`."""
    return event.split(":", 1)[1] if ":" in event else event


def id_kind(key: str) -> str | None:
    """The kind of id a property holds: `serverId`/`server_id` → `server`, else None."""
    if key.endswith("_id") and len(key) > 3:
        return key[:-3]
    if key.endswith("Id") and len(key) > 2:
        return snake(key[:-2])
    return None


def canonical(value: Json) -> str:
    """A stable text form of a JSON value (to compare and group payloads)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)


@dataclass(frozen=True)
class Room:
    """A room channel of the document: an address template with one parameter."""

    key: str
    address: str
    parameter: str

    @property
    def entity(self) -> str:
        """`server:{serverId}` → `server`."""
        return self.address.split("{", 1)[0].rstrip(":")

    def name(self, value: object) -> str:
        """The room's name for one parameter value."""
        return self.address.replace("{" + self.parameter + "}", str(value))

    def parse(self, name: str) -> int | None:
        """The parameter value in a room name of this channel, or None."""
        prefix, _, suffix = self.address.partition("{" + self.parameter + "}")
        if not (name.startswith(prefix) and name.endswith(suffix)):
            return None
        middle = name[len(prefix) : len(name) - len(suffix) if suffix else None]
        return int(middle) if middle.isdigit() else None

    def value_in(self, payload: Json, *, event: str | None = None) -> int | None:
        """The room's parameter value named by a payload (`serverId`, `server_id`, or `id`).

        `id` counts only when the payload is the room's entity itself (`server:updated`
        carries the server, whose `id` is the room's `serverId`).
        """
        if not isinstance(payload, Mapping):
            return None
        for key in (self.parameter, snake(self.parameter)):
            value = payload.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        if event is not None and entity_of(event) == self.entity:
            value = payload.get("id")
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None


@dataclass(frozen=True)
class ReceiveOp:
    """A client → server operation."""

    op_id: str
    event: str
    payload: Json
    reply: Json | None
    errors: frozenset[str]
    tags: tuple[str, ...]
    rate_limit: RateLimitDecl | None = None


@dataclass(frozen=True)
class RateLimitDecl:
    """A receive operation's `x-rate-limit`: at most `limit` per `window_seconds` per key."""

    counter: str
    limit: int
    window_seconds: float
    per: tuple[str, ...]
    counted_after: str

    def key(self, user_id: int, payload: Mapping[str, Any]) -> tuple[object, ...]:
        """The key an event counts against (`user` is the signed-in user)."""
        return (self.counter, *(user_id if p == "user" else payload.get(p) for p in self.per))


def rate_limit_of(op: Mapping[str, Any]) -> RateLimitDecl | None:
    """The `x-rate-limit` of an operation as written, or None."""
    raw = op.get("x-rate-limit")
    if not isinstance(raw, Mapping):
        return None
    return RateLimitDecl(
        counter=str(raw["counter"]),
        limit=int(raw["limit"]),
        window_seconds=float(raw["windowSeconds"]),
        per=tuple(str(p) for p in raw["per"]),
        counted_after=str(raw.get("countedAfter", "payload")),
    )


@dataclass(frozen=True)
class SendOp:
    """A server → client operation: to the requesting socket (`room` None) or to a room."""

    op_id: str
    event: str
    payload: Json
    room: Room | None
    exclude_sender: bool
    tags: tuple[str, ...]

    @property
    def to_socket(self) -> bool:
        """Whether the event goes only to the socket whose request caused it."""
        return self.room is None


@dataclass(frozen=True)
class RoomRules:
    """The conventions the document states in prose only, matched against what it declares.

    - A receive operation `<entity>:<join_verb>` whose payload names the parameter of the
      room `<entity>:{param}` puts the socket in that room when it succeeds;
      `<entity>:<leave_verb>` takes it out.
    - A send event `<entity>:<deleted_action>` empties the room `<entity>:{param}` it names
      (and the rooms of that entity's children, e.g. a server's channel rooms).
    - A send event `<entity>:<member_left_action>` naming the receiving user takes that
      user's sockets out of the room it names and its children's rooms.
    - An entity is created or deleted once: a send event whose action is one of
      `once_actions` reaches each socket at most once with the same payload.
    """

    join_verb: str = "join"
    leave_verb: str = "leave"
    deleted_action: str = "deleted"
    member_left_action: str = "member_left"
    user_keys: tuple[str, ...] = ("userId", "user_id")
    once_actions: tuple[str, ...] = ("new", "created", "deleted")


@dataclass
class Contract:
    """The AsyncAPI document, as operations, rooms, schemas and error codes."""

    path: Path
    version: str
    receive: dict[str, ReceiveOp]
    send: dict[str, SendOp]
    rooms: dict[str, Room]
    error_events: dict[str, frozenset[str]]
    validation_code: str
    rules: RoomRules = field(default_factory=RoomRules)
    _validators: dict[str, jsonschema.protocols.Validator] = field(default_factory=dict)

    @cached_property
    def code_events(self) -> dict[str, str]:
        """Error code → the error event that carries it."""
        return {code: event for event, codes in self.error_events.items() for code in codes}

    @cached_property
    def error_codes(self) -> frozenset[str]:
        """Every error code the document names (error events and `x-errors`)."""
        codes = set(self.code_events)
        for op in self.receive.values():
            codes |= op.errors
        return frozenset(codes)

    def validator(self, key: str, schema: Json) -> jsonschema.protocols.Validator:
        """A Draft 7 validator with format checking, compiled once per key."""
        found = self._validators.get(key)
        if found is None:
            found = jsonschema.Draft7Validator(
                schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
            )
            self._validators[key] = found
        return found

    def problems(self, key: str, schema: Json, data: Json) -> list[str]:
        """Every way `data` breaks `schema` (empty when valid)."""
        errors = self.validator(key, schema).iter_errors(data)
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]

    def payload_problems(self, event: str, data: Json) -> list[str]:
        """How a server → client payload breaks its schema."""
        return self.problems(f"send:{event}", self.send[event].payload, data)

    def request_problems(self, event: str, data: Json) -> list[str]:
        """How a client → server payload breaks its schema."""
        return self.problems(f"receive:{event}", self.receive[event].payload, data)

    def reply_problems(self, event: str, data: Json) -> list[str]:
        """How an ack breaks the operation's reply schema."""
        reply = self.receive[event].reply
        if reply is None:
            return ["the operation declares no reply, but an ack arrived"]
        return self.problems(f"reply:{event}", reply, data)

    def room_for(self, event: str, payload: Json) -> str | None:
        """The room a room event was sent to, from its payload; None if it cannot tell."""
        op = self.send[event]
        if op.room is None:
            return None
        value = op.room.value_in(payload, event=event)
        return None if value is None else op.room.name(value)

    def room_of_entity(self, entity: str) -> Room | None:
        """The room channel whose address starts with `<entity>:`."""
        for room in self.rooms.values():
            if room.entity == entity:
                return room
        return None

    def target_room(self, event: str, payload: Json) -> tuple[str, str] | None:
        """For a join/leave operation: (`enter`|`leave`, room name); else None."""
        entity, action = entity_of(event), action_of(event)
        verb = {self.rules.join_verb: "enter", self.rules.leave_verb: "leave"}.get(action)
        room = self.room_of_entity(entity)
        if verb is None or room is None:
            return None
        value = room.value_in(payload)
        return None if value is None else (verb, room.name(value))

    def is_error_event(self, event: str) -> bool:
        """Whether `event` is one of the document's error events."""
        return event in self.error_events

    def error_event_for(self, code: str) -> str | None:
        """The error event that carries `code`."""
        return self.code_events.get(code)


def _tags(node: Json) -> tuple[str, ...]:
    return tuple(str(t.get("name")) for t in node.get("tags", []) if isinstance(t, dict))


def _channel_key(op: Json) -> str:
    ref = op["channel"]["$ref"]
    return str(ref).rsplit("/", 1)[-1]


def _code_values(schema: Json) -> frozenset[str]:
    """The codes an error payload schema allows (`code: {enum: [...]}` or `const`)."""
    code = schema.get("properties", {}).get("code", {}) if isinstance(schema, dict) else {}
    values = list(code.get("enum", []))
    if "const" in code:
        values.append(code["const"])
    return frozenset(str(v) for v in values)


def load_contract(path: Path, *, validation_code: str = "E_VALIDATION") -> Contract:
    """Read an AsyncAPI 3 document (and the files it `$ref`s) into a Contract."""
    raw = load_yaml(path)
    rooms: dict[str, Room] = {}
    for key, channel in raw.get("channels", {}).items():
        address = channel.get("address")
        if address is None:
            continue
        params = _PARAM.findall(str(address))
        if len(params) != 1:
            raise ValueError(f"channel {key!r}: expected one parameter in {address!r}")
        rooms[key] = Room(key=key, address=str(address), parameter=params[0])

    receive: dict[str, ReceiveOp] = {}
    send: dict[str, SendOp] = {}
    for op_id, op in raw.get("operations", {}).items():
        channel = _channel_key(op)
        for msg_ref in op.get("messages", []):
            message = deref(msg_ref, path)
            event = str(message["name"])
            payload = message.get("payload", {})
            if op["action"] == "receive":
                reply = None
                reply_messages = op.get("reply", {}).get("messages", [])
                if reply_messages:
                    alternatives = [deref(m, path).get("payload", {}) for m in reply_messages]
                    reply = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
                receive[event] = ReceiveOp(
                    op_id=op_id,
                    event=event,
                    payload=payload,
                    reply=reply,
                    errors=frozenset(str(c) for c in op.get("x-errors", [])),
                    tags=_tags(op),
                    rate_limit=rate_limit_of(op),
                )
            else:
                send[event] = SendOp(
                    op_id=op_id,
                    event=event,
                    payload=payload,
                    room=rooms.get(channel),
                    exclude_sender=bool(op.get("x-socketio-exclude-sender", False)),
                    tags=_tags(op),
                )
    error_events = {
        event: codes
        for event, op in send.items()
        if op.to_socket and (codes := _code_values(op.payload))
    }
    contract = Contract(
        path=path,
        version=str(raw.get("info", {}).get("version", "")),
        receive=receive,
        send=send,
        rooms=rooms,
        error_events=error_events,
        validation_code=validation_code,
    )
    if validation_code not in contract.code_events:
        raise ValueError(f"no error event carries the validation code {validation_code!r}")
    missing = [e for e, op in receive.items() if validation_code not in op.errors]
    if missing:
        raise ValueError(f"operations {missing!r} do not list {validation_code!r} in x-errors")
    return contract
