"""The REST half: operations of spec/openapi.yaml by operationId, and a client that checks them.

The runner drives users through REST (sign up, create and join servers, kick, delete) by
operationId; the path and method come from the document, and every answer is checked
against it: a declared status, a body valid against that status's schema, an error `code`
listed in the operation's `x-error-codes`. `x-emits` says which socket events a
successful call sends to which room; the runner checks those on the live sockets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from codegen.loader import deref, load_yaml

Json = Any
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
METHODS = ("get", "post", "put", "patch", "delete")
# "Errors" in spec/openapi.yaml: any request may get these besides its own x-error-codes
# (no such path, method not allowed, body too large, unexpected failure).
GENERIC_ERROR_CODES = frozenset(
    {"E_NOT_FOUND", "E_METHOD_NOT_ALLOWED", "E_PAYLOAD_TOO_LARGE", "E_INTERNAL"}
)


@dataclass(frozen=True)
class Emit:
    """One `x-emits` entry: an event to a room template, maybe only `when` something holds."""

    event: str
    room: str
    when: str | None


@dataclass(frozen=True)
class RestOp:
    """One OpenAPI operation."""

    op_id: str
    method: str
    path: str
    responses: Mapping[str, Json]
    error_codes: frozenset[str]
    emits: tuple[Emit, ...]
    needs_session: bool

    def response_schema(self, status: int) -> tuple[bool, Json | None]:
        """(declared, JSON schema of the body or None) for a status."""
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in self.responses:
                content = self.responses[key].get("content", {})
                media = content.get("application/json")
                return True, (media or {}).get("schema")
        return False, None


@dataclass
class RestSpec:
    """The OpenAPI document as operations by id."""

    path: Path
    version: str
    ops: dict[str, RestOp]

    def __post_init__(self) -> None:
        self._validators: dict[tuple[str, int], jsonschema.protocols.Validator] = {}

    def problems(self, op: RestOp, status: int, body: Json) -> list[str]:
        """How a response breaks the operation's declared responses."""
        declared, schema = op.response_schema(status)
        if not declared:
            return [f"status {status} is not declared for {op.op_id}"]
        found: list[str] = []
        if schema is not None:
            key = (op.op_id, status)
            validator = self._validators.get(key)
            if validator is None:
                validator = jsonschema.Draft202012Validator(
                    schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
                )
                self._validators[key] = validator
            found += [
                f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in validator.iter_errors(body)
            ]
        code = body.get("code") if isinstance(body, dict) else None
        listed = op.error_codes | GENERIC_ERROR_CODES
        if status >= 400 and op.error_codes and code is not None and code not in listed:
            found.append(f"error code {code!r} is not in x-error-codes of {op.op_id}")
        return found


def load_rest_spec(path: Path) -> RestSpec:
    """Read an OpenAPI 3.1 document (and the files it `$ref`s)."""
    raw = load_yaml(path)
    global_security = raw.get("security", [])
    ops: dict[str, RestOp] = {}
    for route, item in raw.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            responses = deref(op.get("responses", {}), path)
            emits = tuple(
                Emit(event=str(e["event"]), room=str(e["room"]), when=e.get("when"))
                for e in op.get("x-emits", [])
            )
            security = op.get("security", global_security)
            ops[op["operationId"]] = RestOp(
                op_id=op["operationId"],
                method=method.upper(),
                path=str(route),
                responses=responses,
                error_codes=frozenset(str(c) for c in op.get("x-error-codes", [])),
                emits=emits,
                needs_session=bool(security) and security != [{}],
            )
    return RestSpec(path=path, version=str(raw.get("info", {}).get("version", "")), ops=ops)


@dataclass
class RestResult:
    """One call and its answer."""

    op: RestOp
    status: int
    body: Json
    path_params: dict[str, Any]
    response: httpx.Response

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300


Recorder = Callable[[RestResult, list[str]], None]


class RestClient:
    """Calls operations by operationId and checks every answer against the document."""

    def __init__(self, spec: RestSpec, base_url: str, record: Recorder) -> None:
        self.spec = spec
        self.base_url = base_url
        self.record = record
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def call(
        self,
        op_id: str,
        *,
        cookie: str | None = None,
        json: Json = None,
        params: Mapping[str, Any] | None = None,
        **path_params: Any,
    ) -> RestResult:
        """Call one operation; the answer is checked and recorded."""
        op = self.spec.ops[op_id]
        url = _PARAM.sub(lambda m: str(path_params[m.group(1)]), op.path)
        # An explicit Cookie header (empty without a session) keeps the client's jar out of it:
        # every call says whose session it is.
        headers = {"Cookie": f"connect.sid={cookie}" if cookie is not None else ""}
        response = await self.http.request(
            op.method, url, json=json, params=dict(params or {}), headers=headers
        )
        self.http.cookies.clear()
        body: Json = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = response.text
        result = RestResult(
            op=op,
            status=response.status_code,
            body=body,
            path_params=path_params,
            response=response,
        )
        self.record(result, self.spec.problems(op, response.status_code, body))
        return result

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()
