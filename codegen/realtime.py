"""Render `generated/realtime/` from the AsyncAPI contract."""

from __future__ import annotations

import pprint
from pathlib import Path

from codegen.asyncapi import Contract, Operation, Room, snake
from codegen.loader import load_yaml
from codegen.models import bundle_schemas, render_models


def _doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def render_events(contract: Contract) -> str:
    """Event-name constants, one per message with a Socket.IO name."""
    lines = [
        '"""The Socket.IO event names of the contract."""',
        "",
        "from enum import StrEnum",
        "",
        "",
        "class Event(StrEnum):",
        '    """Every event of the contract, client → server and server → client."""',
        "",
    ]
    for op in contract.operations:
        arrow = "client → server" if op.action == "receive" else "server → client"
        lines.append(f'    {snake(op.event).upper()} = "{op.event}"')
        lines.append(f'    """{arrow}, on `{op.room.address or "the socket"}`."""')
    receive = ", ".join(f"Event.{snake(op.event).upper()}" for op in contract.receive)
    send = ", ".join(f"Event.{snake(op.event).upper()}" for op in contract.send)
    lines += [
        "",
        "",
        f"RECEIVE_EVENTS: frozenset[Event] = frozenset({{{receive}}})",
        f"SEND_EVENTS: frozenset[Event] = frozenset({{{send}}})",
        "",
    ]
    return "\n".join(lines)


def _room_helper(room: Room) -> list[str]:
    assert room.address is not None
    args = ", ".join(f"{snake(p)}: int" for p in room.params)
    fmt = room.address
    for p in room.params:
        fmt = fmt.replace("{" + p + "}", "{" + snake(p) + "}")
    prefix, _, _ = room.address.partition("{")
    return [
        f'{room.type_name} = NewType("{room.type_name}", str)',
        f'"""A room with the address `{room.address}`."""',
        "",
        "",
        f"def {room.helper_name}({args}) -> {room.type_name}:",
        f'    """The room `{room.address}`."""',
        f'    return {room.type_name}(f"{fmt}")',
        "",
        "",
        f"def parse_{room.helper_name}(room: str) -> int | None:",
        f'    """The id in a `{room.address}` room name, or None if `room` is another room."""',
        f'    if not room.startswith("{prefix}"):',
        "        return None",
        f"    rest = room[{len(prefix)}:]",
        "    return int(rest) if rest.isdigit() else None",
        "",
        "",
    ]


def render_rooms(contract: Contract) -> str:
    """Typed room names and helpers derived from the channel address templates."""
    lines = [
        '"""Typed Socket.IO room names, derived from the channel addresses of the contract."""',
        "",
        "from typing import NewType",
        "",
        "from contract_runtime.emitter import SocketId",
        "",
        '__all__ = ["SocketId"]',
        "",
    ]
    for room in contract.rooms:
        if not room.is_socket:
            lines += _room_helper(room)
    return "\n".join(lines).rstrip() + "\n"


def render_schemas(contract: Contract) -> str:
    """Every message's JSON Schema, dereferenced, as Python data (no spec file at run time)."""
    table = {m.schema_key: m.schema for m in contract.messages}
    body = pprint.pformat(table, indent=1, width=100, sort_dicts=False)
    codes = pprint.pformat(contract.error_events, indent=1, width=100, sort_dicts=False)
    return "\n".join(
        [
            '"""The payload schema of every message, keyed by event name (acks: `ack:<key>`)."""',
            "",
            "from typing import Any",
            "",
            "from contract_runtime.schemas import SchemaRegistry",
            "",
            f"SCHEMAS: dict[str, dict[str, Any]] = {body}",
            "",
            "ERROR_EVENTS: dict[str, str] = " + codes,
            '"""Which error event carries each error code."""',
            "",
            f"ERROR_CODES: tuple[str, ...] = {contract.error_codes!r}",
            "",
            "REGISTRY = SchemaRegistry(SCHEMAS)",
            "",
        ]
    )


def _models_used(ops: tuple[Operation, ...]) -> list[str]:
    names: set[str] = set()
    for op in ops:
        names.add(op.message.model)
        if op.reply_ok_model:
            names.add(op.reply_ok_model)
    return sorted(names)


def render_router(contract: Contract) -> str:
    """The abstract handler base (one method per receive operation) and the bind step."""
    models = ", ".join(_models_used(contract.receive))
    lines = [
        '"""The typed event router: subclass `SocketHandlers`, then `bind` it to a server."""',
        "",
        "import abc",
        "from typing import TypeVar",
        "",
        "import socketio",
        "",
        "from contract_runtime.dispatcher import Context, Dispatcher, HandlersBase, Operation",
        "from contract_runtime.limits import Limiter",
        "from generated.realtime.emitter import Emitter",
        "from generated.realtime.limits import RATE_LIMITS",
        f"from generated.realtime.models import {models}",
        "",
        'P = TypeVar("P")',
        "",
        "",
        "class SocketHandlers(HandlersBase[P]):",
        '    """One abstract method per client → server operation of the contract."""',
        "",
    ]
    for op in contract.receive:
        assert op.reply_ok_model is not None
        errors = ", ".join(op.errors)
        lines += [
            "    @abc.abstractmethod",
            f"    async def {op.method}(self, ctx: Context[P], payload: {op.message.model}) "
            f"-> {op.reply_ok_model}:",
            f'        """`{op.event}`; may raise ContractError with: {errors}."""',
            "",
        ]
    lines += ["", "OPERATIONS: tuple[Operation, ...] = ("]
    for op in contract.receive:
        assert op.reply is not None
        lines.append(
            f'    Operation("{op.event}", "{op.method}", {op.message.model}, '
            f'"{op.reply.schema_key}", frozenset({{{", ".join(map(repr, op.errors))}}}), '
            f'RATE_LIMITS["{op.event}"]),'
        )
    lines += [
        ")",
        "",
        "",
        "def bind(",
        "    sio: socketio.AsyncServer,",
        "    handlers: SocketHandlers[P],",
        "    emitter: Emitter,",
        "    limiter: Limiter | None = None,",
        ") -> Dispatcher[P]:",
        '    """Register every operation on `sio`; fails when one has no handler.',
        "",
        "    With a `limiter`, every operation's `x-rate-limit` counted after the payload is",
        '    enforced before its handler runs."""',
        "    return Dispatcher(sio, handlers, emitter, OPERATIONS, limiter)",
        "",
    ]
    return "\n".join(lines)


def render_limits(contract: Contract) -> str:
    """Every receive operation's `x-rate-limit`, by event name (no spec file at run time)."""
    lines = [
        '"""The rate limit of every client → server event (`x-rate-limit`), by event name."""',
        "",
        "from contract_runtime.limits import RateLimit",
        "",
        "RATE_LIMITS: dict[str, RateLimit] = {",
    ]
    for op in contract.receive:
        limit = op.rate_limit
        per = ", ".join(repr(p) for p in limit["per"]) + ("," if len(limit["per"]) == 1 else "")
        lines.append(
            f'    "{op.event}": RateLimit({str(limit["counter"])!r}, {int(limit["limit"])}, '
            f"{float(limit['windowSeconds'])!r}, ({per}), "
            f"{str(limit.get('countedAfter', 'payload'))!r}),"
        )
    lines += ["}", ""]
    return "\n".join(lines)


def render_emitter(contract: Contract) -> str:
    """The typed emitter: one method per send operation, its target typed by its channel."""
    models = ", ".join(sorted({op.message.model for op in contract.send}))
    room_types = sorted({op.room.type_name for op in contract.send if not op.room.is_socket})
    lines = [
        '"""The typed emitter: one method per server → client operation of the contract."""',
        "",
        "from contract_runtime.emitter import EmitterBase, SocketId",
        f"from generated.realtime.models import {models}",
        f"from generated.realtime.rooms import {', '.join(room_types)}",
        "from generated.realtime.schemas import ERROR_EVENTS, REGISTRY",
        "",
        "",
        "class Emitter(EmitterBase):",
        '    """Every emit is checked once against its schema before it is sent."""',
        "",
        "    registry = REGISTRY",
        "    error_events = ERROR_EVENTS",
        "",
    ]
    for op in contract.send:
        where = "the requesting socket" if op.room.is_socket else f"`{op.room.address}`"
        skip = ", *, skip_sid: SocketId" if op.exclude_sender else ""
        skip_doc = " (the sender's socket excluded)" if op.exclude_sender else ""
        lines += [
            f"    async def {op.method}(self, to: {op.room.type_name}, "
            f"payload: {op.message.model}{skip}) -> None:",
            f'        """Send `{op.event}` to {where}{skip_doc}."""',
            f'        await self._send("{op.event}", payload, to'
            + (", skip_sid=skip_sid" if op.exclude_sender else "")
            + ")",
            "",
        ]
    return "\n".join(lines)


def render_init(contract: Contract) -> str:
    """The package docstring."""
    return (
        f'"""Generated from the AsyncAPI contract "{_doc(contract.title)}" '
        f'version {contract.version}."""\n'
    )


def render_realtime(spec_path: Path, contract: Contract) -> dict[str, str]:
    """Every file of `generated/realtime/` (relative path → text, without headers)."""
    raw = load_yaml(spec_path)
    bundle = bundle_schemas(spec_path, raw["components"]["schemas"])
    return {
        "realtime/__init__.py": render_init(contract),
        "realtime/models.py": render_models(bundle),
        "realtime/events.py": render_events(contract),
        "realtime/rooms.py": render_rooms(contract),
        "realtime/schemas.py": render_schemas(contract),
        "realtime/emitter.py": render_emitter(contract),
        "realtime/router.py": render_router(contract),
        "realtime/limits.py": render_limits(contract),
    }
