"""Read spec/asyncapi.yaml into the small model the renderers need (rooms, messages, operations)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.loader import deref, load_yaml

Json = Any

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def snake(name: str) -> str:
    """`serverId` → `server_id`, `message:new` → `message_new`, `server:member_joined` → ..."""
    name = re.sub(r"[:\-. ]+", "_", name)
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return name.lower()


def pascal(name: str) -> str:
    """`channelRoom` → `ChannelRoom`."""
    return name[:1].upper() + name[1:]


def ref_name(node: Json) -> str:
    """The last segment of a `$ref` (`#/components/schemas/ServerJoin` → `ServerJoin`)."""
    if not isinstance(node, dict) or "$ref" not in node:
        raise ValueError(f"expected a $ref, got {node!r}")
    return str(node["$ref"]).rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Room:
    """A channel of the document: the socket itself (no address) or a room template."""

    key: str
    address: str | None
    params: tuple[str, ...]

    @property
    def is_socket(self) -> bool:
        return self.address is None

    @property
    def type_name(self) -> str:
        return "SocketId" if self.is_socket else pascal(self.key)

    @property
    def helper_name(self) -> str:
        return snake(self.key)


@dataclass(frozen=True)
class Message:
    """A message: a Socket.IO event (with `name`) or an acknowledgement (without)."""

    key: str
    event: str | None
    model: str
    schema: Json
    extension: bool

    @property
    def schema_key(self) -> str:
        """How runtime tables name this message: the event name, or `ack:<key>`."""
        return self.event if self.event is not None else f"ack:{self.key}"


@dataclass(frozen=True)
class Operation:
    """One operation: `receive` (client → server) or `send` (server → client)."""

    op_id: str
    action: str
    room: Room
    message: Message
    reply: Message | None
    reply_ok_model: str | None
    errors: tuple[str, ...]
    exclude_sender: bool
    extension: bool
    enters: Room | None = None
    """The room a success puts the socket in (`x-socketio-enters`)."""
    leaves: Room | None = None
    """The room a success takes the socket out of (`x-socketio-leaves`)."""
    catch_up: Json = None
    """How a client fetches what it missed of this room event (`x-catch-up`), as written."""
    rate_limit: Json = None
    """The operation's `x-rate-limit` (receive operations), checked by `_rate_limit`."""

    @property
    def event(self) -> str:
        assert self.message.event is not None
        return self.message.event

    @property
    def method(self) -> str:
        return ("on_" if self.action == "receive" else "") + snake(self.event)


@dataclass(frozen=True)
class Contract:
    """Everything the generator reads from the AsyncAPI document."""

    title: str
    version: str
    rooms: tuple[Room, ...]
    messages: tuple[Message, ...]
    operations: tuple[Operation, ...]
    error_events: dict[str, str]
    error_codes: tuple[str, ...]

    @property
    def receive(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.action == "receive")

    @property
    def send(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.action == "send")


def _is_extension(node: Json) -> bool:
    return any(tag.get("name") == "extension" for tag in node.get("tags", []))


def _clean_schema(node: Json) -> Json:
    """Drop documentation-only keywords from a runtime validation schema."""
    if isinstance(node, list):
        return [_clean_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    drop = {"examples", "description", "title", "$schema"}
    return {k: _clean_schema(v) for k, v in node.items() if k not in drop}


def _room_of(
    op_id: str, op: Json, key: str, rooms: dict[str, Room], message: Message
) -> Room | None:
    """The room named by `key` on a receive operation, checked against its payload."""
    name = op.get(key)
    if name is None:
        return None
    room = rooms.get(name)
    if room is None or room.is_socket:
        raise ValueError(f"operation {op_id!r}: {key} names no room channel: {name!r}")
    if op["action"] != "receive":
        raise ValueError(f"operation {op_id!r}: {key} is for receive operations")
    missing = set(room.params) - set(message.schema.get("properties", {}))
    if missing:
        raise ValueError(f"operation {op_id!r}: its payload lacks {sorted(missing)} for {key}")
    return room


_RATE_KEYS = {"counter", "limit", "windowSeconds", "per", "countedAfter"}


def _rate_limit(op_id: str, op: Json, message: Message) -> Json:
    """The operation's `x-rate-limit`, checked: every receive operation declares one."""
    limit = op.get("x-rate-limit")
    if op["action"] != "receive":
        if limit is not None:
            raise ValueError(f"operation {op_id!r}: only receive operations have x-rate-limit")
        return None
    if not isinstance(limit, dict) or set(limit) - _RATE_KEYS:
        raise ValueError(f"operation {op_id!r}: x-rate-limit needs {sorted(_RATE_KEYS)}")
    count, window = limit.get("limit"), limit.get("windowSeconds")
    if (
        not isinstance(count, int)
        or count < 1
        or not isinstance(window, int | float)
        or window <= 0
    ):
        raise ValueError(f"operation {op_id!r}: x-rate-limit needs limit >= 1, windowSeconds > 0")
    fields = set(message.schema.get("properties", {}))
    per = limit.get("per")
    if not isinstance(per, list) or "user" not in per or set(per) - fields - {"user"}:
        raise ValueError(f"operation {op_id!r}: x-rate-limit per is user and payload fields")
    if limit.get("countedAfter", "payload") not in ("payload", "permission"):
        raise ValueError(f"operation {op_id!r}: countedAfter is payload or permission")
    if "E_RATE_LIMITED" not in op.get("x-errors", ()):
        raise ValueError(f"operation {op_id!r}: a rate-limited operation lists E_RATE_LIMITED")
    return limit


def _check_counters(operations: list[Operation]) -> None:
    """Operations sharing a counter share its values too."""
    seen: dict[str, tuple[object, ...]] = {}
    for op in operations:
        if op.rate_limit is None:
            continue
        limit = op.rate_limit
        values = (limit["limit"], limit["windowSeconds"], tuple(limit["per"]))
        if seen.setdefault(str(limit["counter"]), values) != values:
            raise ValueError(f"counter {limit['counter']!r}: its operations declare other values")


def read_contract(path: Path) -> Contract:
    """Parse the AsyncAPI document at `path` into a `Contract`."""
    raw = load_yaml(path)
    if raw.get("asyncapi") != "3.0.0":
        raise ValueError(f"expected an AsyncAPI 3.0.0 document, got {raw.get('asyncapi')!r}")
    comp_messages = raw["components"]["messages"]

    messages: dict[str, Message] = {}
    for key, msg in comp_messages.items():
        schema = _clean_schema(deref(msg["payload"], path))
        messages[key] = Message(
            key=key,
            event=msg.get("name"),
            model=ref_name(msg["payload"]),
            schema=schema,
            extension=_is_extension(msg),
        )

    rooms: dict[str, Room] = {}
    for key, channel in raw["channels"].items():
        address = channel.get("address")
        params = tuple(_PARAM.findall(address)) if address else ()
        if set(params) != set(channel.get("parameters", {})):
            raise ValueError(f"channel {key!r}: address parameters and `parameters` differ")
        rooms[key] = Room(key=key, address=address, params=params)

    schemas = raw["components"]["schemas"]
    operations: list[Operation] = []
    for op_id, op in raw["operations"].items():
        room = rooms[ref_name(op["channel"])]
        (msg_ref,) = op["messages"]
        message = messages[ref_name(msg_ref)]
        if message.event is None:
            raise ValueError(f"operation {op_id!r}: its message needs a `name` (the event)")
        reply = reply_ok = None
        if "reply" in op:
            (reply_ref,) = op["reply"]["messages"]
            reply = messages[ref_name(reply_ref)]
            reply_ok = ref_name(schemas[reply.model]["oneOf"][0])
        operations.append(
            Operation(
                op_id=op_id,
                action=op["action"],
                room=room,
                message=message,
                reply=reply,
                reply_ok_model=reply_ok,
                errors=tuple(op.get("x-errors", ())),
                exclude_sender=bool(op.get("x-socketio-exclude-sender", False)),
                extension=_is_extension(op),
                enters=_room_of(op_id, op, "x-socketio-enters", rooms, message),
                leaves=_room_of(op_id, op, "x-socketio-leaves", rooms, message),
                catch_up=op.get("x-catch-up"),
                rate_limit=_rate_limit(op_id, op, message),
            )
        )

    _check_counters(operations)
    error_codes = tuple(deref(schemas["ErrorCode"], path)["enum"])
    error_events: dict[str, str] = {}
    for op in operations:
        if op.action == "send" and op.event.startswith("error:"):
            for code in op.message.schema["properties"]["code"]["enum"]:
                if code in error_events:
                    raise ValueError(f"error code {code!r} belongs to two error events")
                error_events[code] = op.event
    missing = set(error_codes) - set(error_events)
    if missing:
        raise ValueError(f"error codes without an error event: {sorted(missing)}")
    for op in operations:
        unknown = set(op.errors) - set(error_codes)
        if unknown:
            raise ValueError(f"operation {op.op_id!r} lists unknown codes {sorted(unknown)}")

    return Contract(
        title=raw["info"]["title"],
        version=raw["info"]["version"],
        rooms=tuple(rooms.values()),
        messages=tuple(messages.values()),
        operations=tuple(operations),
        error_events=error_events,
        error_codes=error_codes,
    )
