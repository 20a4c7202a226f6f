"""Render `generated/typescript/zizany-events.d.ts`: the payload types and the event maps
of the AsyncAPI contract, for the official `socket.io-client` (`io<ServerToClientEvents,
ClientToServerEvents>(...)` or `Socket<ServerToClientEvents, ClientToServerEvents>`).

The JSON Schema → TypeScript converter covers the subset the specs use (objects with
`required` and `additionalProperties: false`, scalars, `enum`/`const`, arrays,
`oneOf`/`anyOf`, `null`) and refuses any keyword that would change a type's shape but
that it does not translate, rather than emit a type that is wider or narrower than the
schema. Value constraints (bounds, patterns, formats) become JSDoc tags.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.asyncapi import Contract, Operation
from codegen.loader import load_yaml, resolve_pointer, split_ref

Json = Any

_SCALARS = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
# Keywords that only document or constrain values: they never change the TypeScript type.
_DOC_KEYWORDS = {"title", "description", "examples", "example", "$schema", "$comment", "default"}
_CONSTRAINTS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minItems",
    "maxItems",
    "uniqueItems",
)
_SHAPE_KEYWORDS = {
    "$ref",
    "type",
    "enum",
    "const",
    "oneOf",
    "anyOf",
    "properties",
    "required",
    "additionalProperties",
    "items",
}
_KNOWN = _DOC_KEYWORDS | set(_CONSTRAINTS) | _SHAPE_KEYWORDS | {"$defs"}


@dataclass(frozen=True)
class _Def:
    """A named schema to declare: where it lives and its (unresolved) body."""

    name: str
    base: Path
    schema: Json


def _literal(value: Json) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
        return json.dumps(value, ensure_ascii=False)
    raise ValueError(f"cannot write {value!r} as a TypeScript literal type")


def _union(parts: list[str]) -> str:
    unique: list[str] = []
    for part in parts:
        if part not in unique:
            unique.append(part)
    return " | ".join(unique) if unique else "never"


def _comment(lines: list[str], indent: str) -> list[str]:
    if not lines:
        return []
    safe = [line.replace("*/", "*\\/").rstrip() for line in lines]
    if len(safe) == 1:
        return [f"{indent}/** {safe[0]} */"]
    return [
        f"{indent}/**",
        *(f"{indent} *{' ' + line if line else ''}" for line in safe),
        f"{indent} */",
    ]


def _doc_lines(schema: Json) -> list[str]:
    """The description and the value constraints of a schema, as JSDoc lines."""
    if not isinstance(schema, dict):
        return []
    lines = str(schema.get("description", "")).strip().splitlines()
    tags = [f"@{key} {json.dumps(schema[key])}" for key in _CONSTRAINTS if key in schema]
    if lines and tags:
        lines.append("")
    return lines + tags


class _Converter:
    """Collects the named schemas reachable from the contract and writes them as TypeScript."""

    def __init__(self, spec_path: Path) -> None:
        self.spec_path = spec_path.resolve()
        self.defs: dict[str, _Def] = {}
        self._origin: dict[str, str] = {}

    def name_of(self, ref: str, base: Path) -> str:
        """Register the schema `ref` points at (seen from `base`); return its type name.

        A component that only points at a shared definition under the same name
        (`Message: {$ref: ./common.yaml#/$defs/Message}`) is that definition: one type.
        """
        target, pointer = split_ref(ref, base)
        name = pointer.rsplit("/", 1)[-1]
        body = resolve_pointer(load_yaml(target), pointer)
        while isinstance(body, dict) and set(body) == {"$ref"}:
            target, pointer = split_ref(body["$ref"], target)
            if pointer.rsplit("/", 1)[-1] != name:
                raise ValueError(f"{ref!r} is an alias of {pointer!r}: keep the shared name")
            body = resolve_pointer(load_yaml(target), pointer)
        key = f"{target}#{pointer}"
        known = self._origin.get(name)
        if known is None:
            self._origin[name] = key
            self.check(body, name)
            self.defs[name] = _Def(name, target, body)
        elif known != key:
            raise ValueError(f"two schemas are both named {name!r}: {known} and {key}")
        return name

    def check(self, schema: Json, where: str) -> None:
        """Refuse keywords the converter does not translate."""
        if not isinstance(schema, dict):
            raise ValueError(f"{where}: a schema must be an object, got {schema!r}")
        unknown = sorted(set(schema) - _KNOWN - {k for k in schema if k.startswith("x-")})
        if unknown:
            raise ValueError(f"{where}: keywords {unknown} have no TypeScript form here")
        extra = schema.get("additionalProperties", False)
        if "properties" in schema and extra is not False:
            raise ValueError(f"{where}: only objects with additionalProperties: false are typed")

    def type_of(self, schema: Json, base: Path, indent: str, where: str) -> str:
        """The TypeScript type expression of `schema`."""
        self.check(schema, where)
        if "$ref" in schema:
            return self.name_of(schema["$ref"], base)
        if "const" in schema:
            return _literal(schema["const"])
        if "enum" in schema:
            return _union([_literal(v) for v in schema["enum"]])
        for key in ("oneOf", "anyOf"):
            if key in schema:
                branches = [
                    self.type_of(b, base, indent, f"{where}/{key}/{i}")
                    for i, b in enumerate(schema[key])
                ]
                return _union(branches)
        kind = schema.get("type")
        if isinstance(kind, list):
            return _union([self.type_of({**schema, "type": k}, base, indent, where) for k in kind])
        if kind == "null":
            return "null"
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind == "array":
            items = schema.get("items")
            if items is None:
                return "unknown[]"
            inner = self.type_of(items, base, indent, f"{where}/items")
            return f"({inner})[]" if " " in inner else f"{inner}[]"
        if kind == "object" or "properties" in schema:
            return self.object_literal(schema, base, indent, where)
        if kind is None:
            return "unknown"
        raise ValueError(f"{where}: type {kind!r} has no TypeScript form here")

    def object_literal(self, schema: Json, base: Path, indent: str, where: str) -> str:
        """`{ a: T; b?: U }` over several lines (closed objects only)."""
        properties = schema.get("properties", {})
        if schema.get("additionalProperties", True) is not False:
            if properties:
                raise ValueError(f"{where}: open objects with properties are not typed")
            return "Record<string, unknown>"
        required = set(schema.get("required", ()))
        missing = required - set(properties)
        if missing:
            raise ValueError(f"{where}: required {sorted(missing)} are not among the properties")
        inner = indent + "  "
        lines = ["{"]
        for prop, sub in properties.items():
            lines += _comment(_doc_lines(sub), inner)
            key = prop if _IDENT.match(prop) else json.dumps(prop)
            optional = "" if prop in required else "?"
            value = self.type_of(sub, base, inner, f"{where}/{prop}")
            lines.append(f"{inner}{key}{optional}: {value};")
        lines.append(f"{indent}}}")
        return "\n".join(lines)

    def declaration(self, item: _Def) -> list[str]:
        """`export interface Name {...}` for an object, `export type Name = ...;` otherwise."""
        schema = item.schema
        lines = _comment(_doc_lines(schema), "")
        is_object = isinstance(schema, dict) and (
            schema.get("type") == "object" and "properties" in schema
        )
        body = self.type_of(schema, item.base, "", item.name)
        if is_object and body.startswith("{"):
            lines.append(f"export interface {item.name} {body}")
        else:
            lines.append(f"export type {item.name} = {body};")
        return lines

    def render_all(self) -> list[str]:
        """Every declaration: the shared files' first, each file in its own order."""
        while True:  # rendering finds the definitions that others refer to
            known = len(self.defs)
            for item in list(self.defs.values()):
                self.declaration(item)
            if len(self.defs) == known:
                break

        def position(item: _Def) -> tuple[bool, str, int]:
            doc = load_yaml(item.base)
            table = doc.get("$defs") or doc.get("components", {}).get("schemas", {})
            order = list(table)
            return (item.base == self.spec_path, str(item.base), order.index(item.name))

        out: list[str] = []
        for item in sorted(self.defs.values(), key=position):
            out += [*self.declaration(item), ""]
        return out


def _ts_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _op_doc(raw_op: Json, op: Operation) -> list[str]:
    lines = [str(raw_op.get("summary") or raw_op.get("title") or op.op_id).strip()]
    where = f"`{op.room.address}`" if op.room.address else "the requesting socket"
    lines.append("")
    if op.action == "send":
        lines.append(f"Sent to {where}" + (", the sender excluded." if op.exclude_sender else "."))
    elif op.errors:
        codes = ", ".join(op.errors)
        lines.append(f"Fails (`{{ok: false, code}}` and an `error:*` event) with: {codes}.")
    tags = [t.get("name") for t in raw_op.get("tags", [])]
    if "extension" in tags:
        lines.append("Zizany extension (not in the original socket specification).")
    return lines


def render_typescript(spec_path: Path, contract: Contract) -> str:
    """The whole .d.ts text (without the generated-file header)."""
    raw = load_yaml(spec_path)
    conv = _Converter(spec_path)
    for name in raw["components"]["schemas"]:
        conv.name_of(f"#/components/schemas/{name}", spec_path)
    for op in contract.operations:
        for message in (op.message, op.reply):
            if message is not None and message.model not in conv.defs:
                raise ValueError(f"{op.op_id}: payload {message.model!r} is not a component schema")

    title = raw["info"]["title"]
    lines = [
        f"// TypeScript declarations of the {title} {contract.version}, for socket.io-client v4:",
        "//",
        '//   import { io, type Socket } from "socket.io-client";',
        "//   import type { ClientToServerEvents, ServerToClientEvents }",
        '//     from "./zizany-events.js";',
        "//   const socket: Socket<ServerToClientEvents, ClientToServerEvents> =",
        '//     io("http://localhost:4000", { withCredentials: true });',
        '//   const reply = await socket.emitWithAck("server:join", { serverId: 1 });',
        "//",
        "// Every client event takes an acknowledgement callback, typed by its reply:",
        "// `{ok: true, ...}` or `{ok: false, code, message}`. The event maps follow the",
        "// spec's operations: `receive` (the server receives) → ClientToServerEvents,",
        "// `send` (the server emits) → ServerToClientEvents.",
        "",
        "/** The contract version these declarations were generated from (`info.version`). */",
        f"export type ContractVersion = {_ts_string(contract.version)};",
        "",
        *conv.render_all(),
    ]
    raw_ops = raw["operations"]
    lines += [
        "/** Events the server emits (`send` operations): `socket.on(event, handler)`. */",
        "export interface ServerToClientEvents {",
    ]
    for op in contract.send:
        lines += _comment(_op_doc(raw_ops[op.op_id], op), "  ")
        lines.append(f"  {_ts_string(op.event)}: (payload: {op.message.model}) => void;")
    lines += [
        "}",
        "",
        "/**",
        " * Events the client emits (`receive` operations). The last argument is the",
        " * acknowledgement callback: use `socket.emitWithAck(event, payload)` for a Promise of",
        " * the reply, or `socket.emit(event, payload, (reply) => ...)`.",
        " */",
        "export interface ClientToServerEvents {",
    ]
    for op in contract.receive:
        assert op.reply is not None
        lines += _comment(_op_doc(raw_ops[op.op_id], op), "  ")
        lines.append(
            f"  {_ts_string(op.event)}: (payload: {op.message.model}, "
            f"ack: (reply: {op.reply.model}) => void) => void;"
        )
    lines += [
        "}",
        "",
        "/** The name of an event the server emits. */",
        "export type ServerEventName = keyof ServerToClientEvents;",
        "",
        "/** The name of an event the client emits. */",
        "export type ClientEventName = keyof ClientToServerEvents;",
        "",
        '/** The payload of a server event: `ServerPayload<"message:new">` is `Message`. */',
        "export type ServerPayload<E extends ServerEventName> =",
        "  Parameters<ServerToClientEvents[E]>[0];",
        "",
        '/** The payload of a client event: `ClientPayload<"message:create">` is '
        "`MessageCreate`. */",
        "export type ClientPayload<E extends ClientEventName> =",
        "  Parameters<ClientToServerEvents[E]>[0];",
        "",
        '/** The reply of a client event: `AckOf<"server:join">` is `ServerJoinReply`. */',
        "export type AckOf<E extends ClientEventName> =",
        "  Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];",
        "",
    ]
    return "\n".join(lines)
