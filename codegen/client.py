"""Render `generated/realtime/client.py`: a typed Python client of the AsyncAPI contract.

One `async def <event>(payload) -> <Ok model>` per receive operation (the server
receives it: the client sends it with an ack and gets the typed reply, or EventFailed),
one `on_<event>(handler)` decorator per send operation and a `wait_for(event)` typed by
overloads. The connection, the ack call and the inbox are in `contract_runtime.client`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codegen.asyncapi import Contract, Operation, ref_name, snake
from codegen.loader import deref, load_yaml

# Names ClientBase already uses: a generated method must not shadow them.
_RESERVED = {
    "sio",
    "timeout",
    "off_spec",
    "dropped",
    "connected",
    "connect",
    "disconnect",
    "pending",
    "events",
    "wait_for",
    "EVENTS",
    "COOKIE_NAME",
    "VERSION",
    "ROOM_COMMANDS",
    "CATCH_UP",
    "joined_rooms",
    "catch_up_failures",
    "caught_up",
    "reconnect",
}
_METHODS = ("get", "put", "post", "patch", "delete")
_CATCH_UP_KEYS = ("key", "items", "after", "nextAfter", "before", "nextBefore", "limit")


def _doc(text: str) -> str:
    return " ".join(text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').split())


def _cookie_name(raw: Any) -> str:
    """The name of the spec's cookie security scheme (`connect.sid`)."""
    schemes = raw.get("components", {}).get("securitySchemes", {})
    names = [
        s["name"]
        for s in schemes.values()
        if isinstance(s, dict) and s.get("in") == "cookie" and isinstance(s.get("name"), str)
    ]
    if len(names) != 1:
        raise ValueError(f"expected one cookie security scheme, found {names}")
    return str(names[0])


def _error_model(raw: Any, contract: Contract) -> str:
    """The error branch shared by every reply (`oneOf: [<Ok>, AckError]`)."""
    schemas = raw["components"]["schemas"]
    found: set[str] = set()
    for op in contract.receive:
        assert op.reply is not None
        branches = schemas[op.reply.model]["oneOf"]
        if len(branches) != 2:
            raise ValueError(f"{op.op_id}: a reply must be oneOf [ok, error]")
        found.add(ref_name(branches[1]))
    if len(found) != 1:
        raise ValueError(f"every reply must share one error schema, found {sorted(found)}")
    return found.pop()


def _room_command(op: Operation) -> str | None:
    """The RoomCommand of a receive operation that enters or leaves a room, as source."""
    room = op.enters or op.leaves
    if room is None:
        return None
    assert op.reply is not None and room.address is not None
    (param,) = room.params
    return (
        f'"{op.event}": RoomCommand("{room.address}", "{param}", '
        f"enters={op.enters is not None}, reply={op.reply.model}),"
    )


def _catch_up(spec_path: Path, op: Operation) -> str | None:
    """The CatchUp of a room event with `x-catch-up`, checked against the REST operation."""
    spec = op.catch_up
    if spec is None:
        return None
    where = f"operation {op.op_id!r}: x-catch-up"
    if op.action != "send" or op.room.address is None or len(op.room.params) != 1:
        raise ValueError(f"{where} belongs on a send operation to a room with one parameter")
    missing = [key for key in ("openapi", "operationId", *_CATCH_UP_KEYS) if key not in spec]
    if missing:
        raise ValueError(f"{where} lacks {missing}")
    rest_path = (spec_path.parent / spec["openapi"]).resolve()
    doc = load_yaml(rest_path)
    found = [
        (method, path, item)
        for path, item in doc["paths"].items()
        for method in _METHODS
        if method in item and item[method].get("operationId") == spec["operationId"]
    ]
    if len(found) != 1 or found[0][0] != "get":
        raise ValueError(f"{where}: no GET operation {spec['operationId']!r} in {rest_path.name}")
    method, path, item = found[0]
    (param,) = op.room.params
    if set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", path)) != {param}:
        raise ValueError(f"{where}: {path} must take the room's parameter {param!r}")
    raw_params = [*item.get("parameters", []), *item[method].get("parameters", [])]
    query = {p["name"]: p for p in deref(raw_params, rest_path) if p.get("in") == "query"}
    for key in ("after", "before", "limit"):
        if spec[key] not in query:
            raise ValueError(f"{where}: {spec['operationId']} has no query parameter {spec[key]!r}")
    props = op.message.schema.get("properties", {})
    field = next((name for name in (param, snake(param)) if name in props), None)
    if field is None or spec["key"] not in props:
        raise ValueError(
            f"{where}: the payload needs {param!r} (or {snake(param)!r}) and {spec['key']!r}"
        )
    values = ", ".join(f'{snake(key)}="{spec[key]}"' for key in _CATCH_UP_KEYS)
    # The largest page the operation serves: fewest requests per catch-up.
    limit = query[spec["limit"]].get("schema", {})
    page_size = int(limit.get("maximum", limit.get("default", 1)))
    return (
        f'"{op.event}": CatchUp(room="{op.room.address}", param="{param}", field="{field}", '
        f'path="{path}", {values}, page_size={page_size}),'
    )


def _summary(raw_op: Any, op: Operation) -> str:
    return _doc(str(raw_op.get("summary") or raw_op.get("title") or op.op_id))


def render_client(spec_path: Path, contract: Contract) -> str:
    """The text of `generated/realtime/client.py` (without the generated-file header)."""
    raw = load_yaml(spec_path)
    raw_ops = raw["operations"]
    error = _error_model(raw, contract)
    models = {error}
    for op in contract.receive:
        assert op.reply is not None and op.reply_ok_model is not None
        models |= {op.message.model, op.reply.model, op.reply_ok_model}
    models |= {op.message.model for op in contract.send}
    for op in contract.operations:
        name = snake(op.event) if op.action == "receive" else f"on_{snake(op.event)}"
        if name in _RESERVED or name.startswith("_"):
            raise ValueError(f"{op.event!r} would shadow ClientBase.{name}")

    lines = [
        f'"""The typed Socket.IO client of "{_doc(contract.title)}" {contract.version}.',
        "",
        "    client = ZizanyClient()",
        '    await client.connect("http://localhost:4000", cookie=session_cookie_value)',
        "    await client.channel_join(ChannelJoin(channelId=1))",
        '    message = await client.wait_for("message:new")',
        "",
        "One async method per client → server event (sent with an ack; returns the typed `ok`",
        "reply or raises EventFailed), one `on_<event>` decorator per server → client event, and",
        "`wait_for(event)` / `events()` over the events received. Every ack and event is",
        "validated against the contract's models; off-spec data is kept in `off_spec`.",
        '"""',
        "",
        "from collections.abc import Callable, Mapping",
        "from typing import Any, Literal, overload",
        "",
        "from pydantic import BaseModel",
        "",
        "from contract_runtime.client import CatchUp, ClientBase, Handler, RoomCommand",
        "from contract_runtime.errors import ContractError",
        "from generated.realtime.events import Event",
        f"from generated.realtime.models import {', '.join(sorted(models))}",
        "",
        "",
        "class EventFailed(ContractError):",
        '    """A client event was answered `{ok: false, code, message}`; `ack` is that reply."""',
        "",
        f"    def __init__(self, event: str, ack: {error}) -> None:",
        "        extra = ack.model_dump(",
        '            mode="json", exclude={"ok", "code", "message"}, exclude_none=True',
        "        )",
        "        super().__init__(ack.message, code=ack.code, extra=extra)",
        "        self.event = event",
        "        self.ack = ack",
        "",
        "",
        "class ZizanyClient(ClientBase):",
        '    """The contract\'s client: typed calls, typed handlers, typed waits."""',
        "",
        f'    VERSION = "{contract.version}"',
        '    """The contract version this client was generated from."""',
        f'    COOKIE_NAME = "{_cookie_name(raw)}"',
        "    EVENTS: Mapping[str, type[BaseModel]] = {",
    ]
    for op in contract.send:
        lines.append(f'        "{op.event}": {op.message.model},')
    lines += ["    }", "    ROOM_COMMANDS: Mapping[str, RoomCommand] = {"]
    lines += [f"        {line}" for op in contract.receive if (line := _room_command(op))]
    lines += ["    }", "    CATCH_UP: Mapping[str, CatchUp] = {"]
    lines += [f"        {line}" for op in contract.send if (line := _catch_up(spec_path, op))]
    lines += ["    }", ""]

    for op in contract.receive:
        assert op.reply is not None
        ok = op.reply_ok_model
        codes = ", ".join(op.errors)
        lines += [
            f"    async def {snake(op.event)}(",
            f"        self, payload: {op.message.model}, *, timeout: float | None = None",
            f"    ) -> {ok}:",
            f'        """`{op.event}`: {_summary(raw_ops[op.op_id], op)}',
            "",
            f"        Raises EventFailed with {codes}.",
            '        """',
            f'        answer = await self._call("{op.event}", payload, {op.reply.model}, timeout)',
            "        reply = answer.root",
            f"        if isinstance(reply, {error}):",
            f'            raise EventFailed("{op.event}", reply)',
            "        return reply",
            "",
        ]

    for op in contract.send:
        model = op.message.model
        where = f"`{op.room.address}`" if op.room.address else "this socket"
        lines += [
            f"    def on_{snake(op.event)}(self, handler: Handler[{model}]) -> Handler[{model}]:",
            f'        """Call `handler` with every `{op.event}` (to {where}): '
            f'{_summary(raw_ops[op.op_id], op)}"""',
            f'        self._subscribe("{op.event}", handler)',
            "        return handler",
            "",
        ]

    for op in contract.send:
        model = op.message.model
        member = f"Event.{snake(op.event).upper()}"
        lines += [
            "    @overload",
            "    async def wait_for(",
            "        self,",
            f'        event: Literal["{op.event}", {member}],',
            "        *,",
            f"        where: Callable[[{model}], bool] | None = None,",
            "        timeout: float | None = None,",
            f"    ) -> {model}: ...",
            "",
        ]
    lines += [
        "    async def wait_for(",
        "        self,",
        "        event: str,",
        "        *,",
        "        where: Callable[[Any], bool] | None = None,",
        "        timeout: float | None = None,",
        "    ) -> Any:",
        '        """Take the oldest received `event` (matching `where`), waiting for one if none.',
        "",
        "        Raises TimeoutError after `timeout` seconds (default: the client's timeout) and",
        "        Disconnected when the connection ends first.",
        '        """',
        "        return await self._wait_for(event, where, timeout)",
        "",
    ]
    return "\n".join(lines)
