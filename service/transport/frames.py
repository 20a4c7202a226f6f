"""What a client may send as one Engine.IO packet, checked before the libraries decode it.

python-engineio and python-socketio decode client packets in places no setting reaches
(`engineio.packet.Packet` is hard-wired in its socket class): a garbage text frame
raises inside the ASGI app, a payload nested 1,000 deep raises `RecursionError` in
validation, a binary event makes the server buffer attachments. So every packet a client
sends (a WebSocket text frame, one record of a polling body) goes through `check_packet`
first, and comes out as one of:

- passed on unchanged (the common case: one `str.count` pair and one orjson decode);
- rewritten so the event still reaches its handler with a payload that fails validation
  (`error:validation` to the sender, the connection stays up): the frame names an
  event, but its payload does not decode or is nested deeper than `max_depth`;
- refused: the frame cannot be attributed to an event (not an Engine.IO packet, not a
  Socket.IO packet, binary, another namespace, a CONNECT_ERROR from a client...), and
  the connection is closed.

The contract has no binary payloads (attachments are capped at none): a binary event that
names its event is answered `error:validation` like any invalid payload, and the binary
frames it announces (at most `MAX_ATTACHMENTS`) are dropped as they arrive, never
buffered; any other binary frame or packet closes the connection.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

# Engine.IO packet types a client may send: close, ping, pong, message, upgrade, noop.
_CLIENT_ENGINEIO_TYPES = frozenset("123456")
ENGINEIO_MESSAGE = "4"
# Socket.IO packet types a client may send: connect, disconnect, event, ack.
SOCKETIO_CONNECT, SOCKETIO_DISCONNECT, SOCKETIO_EVENT, SOCKETIO_ACK = "0", "1", "2", "3"
SOCKETIO_CONNECT_ERROR = "4"
# An ack id longer than this is not a number any client sends.
_MAX_ID_DIGITS = 15
BINARY_REFUSED = "binary payloads are not part of the contract"
# A binary event may announce this many attachments (the library's own limit is 10 digits).
MAX_ATTACHMENTS = 10
# The event name of an undecodable EVENT payload, when it can still be read.
_EVENT_NAME = re.compile(r'\[\s*"([A-Za-z0-9_:.\-]{1,64})"')


@dataclass(frozen=True)
class Verdict:
    """What to do with one client packet."""

    packet: str | None
    """The packet to pass on (possibly rewritten), or None: refuse it, close the connection."""
    problem: str | None = None
    """What was wrong with it (for the one log line), None when nothing was."""
    attachments: int = 0
    """Binary frames that follow and belong to it: to be dropped, never buffered."""
    binary: bool = False
    """Refused for being binary (WebSocket close code 1003, unsupported data)."""

    @property
    def refused(self) -> bool:
        """Whether the connection must be closed."""
        return self.packet is None


def _ok(packet: str) -> Verdict:
    return Verdict(packet=packet)


def _refuse(problem: str, *, binary: bool = False) -> Verdict:
    return Verdict(packet=None, problem=problem, binary=binary)


def invalid_payload_marker(problem: str) -> str:
    """The payload an undecodable event is handed on with: a string no event schema accepts."""
    return f"<invalid payload: {problem}>"


def check_packet(packet: str, *, max_depth: int) -> Verdict:
    """Check one Engine.IO packet sent by a client (text; binary frames are refused earlier)."""
    if not packet:
        return _refuse("empty Engine.IO packet")
    kind = packet[0]
    if kind not in _CLIENT_ENGINEIO_TYPES:
        if kind == "b":
            return _refuse(BINARY_REFUSED, binary=True)
        return _refuse(f"not an Engine.IO packet (type {kind!r})")
    if kind != ENGINEIO_MESSAGE:
        return _ok(packet)
    verdict = _check_socketio(packet[1:], max_depth=max_depth)
    if verdict.packet is None:
        return verdict
    if verdict.problem is None:
        return _ok(packet)
    return Verdict(
        packet=ENGINEIO_MESSAGE + verdict.packet,
        problem=verdict.problem,
        attachments=verdict.attachments,
    )


def _check_socketio(packet: str, *, max_depth: int) -> Verdict:
    """Check a Socket.IO packet (the data of an Engine.IO message)."""
    if not packet:
        return _refuse("empty Socket.IO packet")
    kind, rest = packet[0], packet[1:]
    attachments = 0
    if kind == "5":  # BINARY_EVENT: answered as an invalid event, its attachments dropped
        count, dash, rest = rest.partition("-")
        if not dash or not count.isdigit() or not count.isascii():
            return _refuse("malformed binary event", binary=True)
        attachments = int(count) if len(count) <= 2 else MAX_ATTACHMENTS + 1
        if attachments > MAX_ATTACHMENTS:
            return _refuse(f"more than {MAX_ATTACHMENTS} binary attachments", binary=True)
        kind = SOCKETIO_EVENT
    elif kind == "6":
        return _refuse(BINARY_REFUSED, binary=True)
    if kind == SOCKETIO_CONNECT_ERROR:
        return _refuse("a client may not send CONNECT_ERROR")
    if kind not in "0123":
        return _refuse(f"not a Socket.IO packet (type {kind!r})")
    if rest.startswith("/"):
        namespace, comma, rest = rest.partition(",")
        if namespace.partition("?")[0] != "/":
            return _refuse("only the default namespace is served")
        if not comma and rest:
            return _refuse("malformed namespace")
    digits = 0
    while digits < len(rest) and rest[digits].isdigit() and rest[digits].isascii():
        digits += 1
    if digits > _MAX_ID_DIGITS:
        return _refuse("ack id too long")
    ack_id, data = rest[:digits], rest[digits:]
    if kind == SOCKETIO_DISCONNECT:
        return _ok(packet) if not data else _refuse("DISCONNECT with a payload")
    if kind == SOCKETIO_CONNECT:
        if not data:
            return _ok(packet)
        value, problem = decode(data, max_depth=max_depth)
        return (
            _ok(packet)
            if problem is None and isinstance(value, dict)
            else _refuse("CONNECT payload is not a JSON object")
        )
    if kind == SOCKETIO_ACK:
        if not ack_id:
            return _refuse("ACK without an id")
        value, problem = decode(data, max_depth=max_depth)
        return (
            _ok(packet)
            if problem is None and isinstance(value, list)
            else _refuse("ACK payload is not a JSON array")
        )
    # An EVENT: ["name", ...arguments].
    value, problem = decode(data, max_depth=max_depth) if data else (None, "no payload")
    if attachments:
        problem = BINARY_REFUSED
    if problem is None:
        if isinstance(value, list) and value and isinstance(value[0], str):
            return _ok(packet)
        return _refuse("EVENT payload is not [name, ...]")
    match = _EVENT_NAME.match(data)
    if match is None:
        return _refuse(f"EVENT payload does not decode ({problem})")
    replacement = orjson.dumps([match.group(1), invalid_payload_marker(problem)]).decode()
    return Verdict(
        packet=SOCKETIO_EVENT + ack_id + replacement, problem=problem, attachments=attachments
    )


def decode(data: str, *, max_depth: int) -> tuple[Any, str | None]:
    """(value, None), or (None, what is wrong): JSON, nested at most `max_depth` deep.

    Decodes as the server does (`OrjsonJSON.loads`: orjson, and the json module for what
    orjson refuses, such as integers beyond 64 bits), never raising.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            return None, "not JSON"
    # At most one container per bracket: fewer brackets than the limit cannot be too deep.
    if data.count("[") + data.count("{") > max_depth and depth_exceeds(value, max_depth):
        return None, f"nested deeper than {max_depth} levels"
    return value, None


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether lists/dicts in `value` nest deeper than `max_depth` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
