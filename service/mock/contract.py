"""The contract as the mock server plays it, read from spec/ at start-up.

REST: every operation of `spec/openapi.yaml` with its first success response's first
example (status, body, headers) and whether it needs the session cookie. Socket.IO: every
receive operation of `spec/asyncapi.yaml` with its `ok` reply example, `x-emits` and
`x-socketio-enters`/`-leaves`, and every send operation with its first example and
room. Nothing here names an operation, an event or a field of Zizany.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from codegen.loader import deref, load_yaml
from service.api.spec import SPEC_DIR  # one place says where the installed spec is

Json = Any
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_METHODS = ("get", "post", "put", "patch", "delete")


class SpecGap(ValueError):
    """The spec lacks what the mock needs to play an operation (an example, a room)."""


@dataclass(frozen=True)
class RestOperation:
    """One REST operation and the answer the mock gives it."""

    operation_id: str
    method: str
    path: str
    pattern: re.Pattern[str]
    status: int
    body: Json | None
    headers: tuple[tuple[str, str], ...]
    needs_session: bool
    unauthorized: Json | None  # the 401 example, for a request without a session cookie


@dataclass(frozen=True)
class Emit:
    """One entry of a receive operation's `x-emits`."""

    event: str
    room: str | None  # an address template such as `channel:{channelId}`; None: the socket
    when: str | None
    example: str | None  # the name of the event's example to send; None: its first

    def room_name(self, request: Json, payload: Json) -> str | None:
        """The room, its parameter taken from the request, else from the event's payload."""
        return None if self.room is None else fill(self.room, request, payload)


@dataclass(frozen=True)
class SocketOperation:
    """A client → server event: its ok reply and what it causes."""

    event: str
    reply: Json
    emits: tuple[Emit, ...]
    enter: str | None
    leave: str | None


@dataclass(frozen=True)
class ServerEvent:
    """A server → client event: its example payloads and whether the sender is skipped."""

    event: str
    examples: tuple[tuple[str, Json], ...]  # (name, payload), in the spec's order
    exclude_sender: bool

    def example(self, name: str | None = None) -> Json:
        """The payload of the example called `name` (None: the first)."""
        for found, payload in self.examples:
            if name is None or found == name:
                return payload
        raise SpecGap(f"{self.event}: no example named {name!r}")


@dataclass(frozen=True)
class MockContract:
    """Everything the mock answers, by REST operation and by event."""

    version: str
    rest: tuple[RestOperation, ...]
    receive: dict[str, SocketOperation]
    send: dict[str, ServerEvent]


def snake(name: str) -> str:
    """`channelId` → `channel_id`."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def fill(template: str, *sources: Json) -> str:
    """`channel:{channelId}` with the parameter from the first source that has it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        for source in sources:
            if isinstance(source, dict):
                for key in (name, snake(name)):
                    if isinstance(source.get(key), int):
                        return str(source[key])
        raise SpecGap(f"no value for {name!r} of {template!r} in {sources!r}")

    return _PARAM.sub(value, template)


def resolved(path: Path) -> Json:
    """The spec document at `path` with every `$ref` resolved (codegen's one resolver)."""
    return deref(load_yaml(path), path)


@cache
def load_mock_contract(spec_dir: Path = SPEC_DIR) -> MockContract:
    """Read both specs (and common.yaml) into what the mock needs; SpecGap names a gap.

    Read once per directory and process (about 2 s: the YAML and its references).
    """
    openapi = resolved(spec_dir / "openapi.yaml")
    asyncapi = resolved(spec_dir / "asyncapi.yaml")
    receive, send = _socket_operations(asyncapi)
    return MockContract(
        version=str(asyncapi["info"]["version"]),
        rest=tuple(_rest_operations(openapi)),
        receive=receive,
        send=send,
    )


def _first_example(media: Json, where: str) -> Json:
    if "example" in media:
        return media["example"]
    examples = media.get("examples") or {}
    for example in examples.values():
        return example["value"]
    raise SpecGap(f"{where}: no example")


def _rest_operations(openapi: Json) -> list[RestOperation]:
    default_security = openapi.get("security", [])
    found = []
    for path, item in openapi["paths"].items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            where = f"{method.upper()} {path}"
            status, response = next(
                (int(code), r) for code, r in op["responses"].items() if str(code).startswith("2")
            )
            media = response.get("content", {}).get("application/json")
            body = None if media is None else _first_example(media, where)
            headers = tuple(
                (name, str(header["example"]))
                for name, header in response.get("headers", {}).items()
                if "example" in header
            )
            found.append(
                RestOperation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=path,
                    pattern=_path_pattern(path),
                    status=status,
                    body=body,
                    headers=headers,
                    needs_session=bool(op.get("security", default_security)),
                    unauthorized=_error_example(op, "401", where),
                )
            )
    return found


def _error_example(op: Json, status: str, where: str) -> Json | None:
    response = op["responses"].get(status)
    if response is None:
        return None
    return _first_example(response["content"]["application/json"], f"{where} {status}")


def _path_pattern(path: str) -> re.Pattern[str]:
    parts = _PARAM.split(path)
    # Even parts are literal text, odd parts are parameter names.
    regex = "".join(re.escape(p) if i % 2 == 0 else "[^/]+" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$")


def _socket_operations(
    asyncapi: Json,
) -> tuple[dict[str, SocketOperation], dict[str, ServerEvent]]:
    receive: dict[str, SocketOperation] = {}
    send: dict[str, ServerEvent] = {}
    for op_id, op in asyncapi["operations"].items():
        message = op["messages"][0]
        event = str(message["name"])
        if op["action"] == "send":
            examples = message.get("examples") or []
            if not examples:
                raise SpecGap(f"operation {op_id!r} ({event}): its message has no example")
            send[event] = ServerEvent(
                event=event,
                examples=tuple((str(e.get("name", "")), e["payload"]) for e in examples),
                exclude_sender=bool(op.get("x-socketio-exclude-sender", False)),
            )
            continue
        replies = [
            example["payload"]
            for reply in op.get("reply", {}).get("messages", [])
            for example in reply.get("examples", [])
            if example["payload"].get("ok") is True
        ]
        if not replies:
            raise SpecGap(f"operation {op_id!r} ({event}): no reply example with ok: true")
        rooms = {
            kind: asyncapi["channels"][op[f"x-socketio-{kind}s"]]["address"]
            for kind in ("enter", "leave")
            if f"x-socketio-{kind}s" in op
        }
        receive[event] = SocketOperation(
            event=event,
            reply=replies[0],
            emits=tuple(
                Emit(
                    event=str(e["event"]),
                    room=e.get("room"),
                    when=e.get("when"),
                    example=e.get("example"),
                )
                for e in op.get("x-emits", [])
            ),
            enter=rooms.get("enter"),
            leave=rooms.get("leave"),
        )
    for op in receive.values():
        unknown = [e.event for e in op.emits if e.event not in send]
        if unknown:
            raise SpecGap(f"{op.event}: x-emits names events no send operation has: {unknown}")
        for emit in op.emits:
            send[emit.event].example(emit.example)  # a named example must exist
    return receive, send
