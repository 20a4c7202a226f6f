"""Compatibility check: compare both specs with their versions at a git ref, by direction.

`python -m conformance.compat <ref>` reads spec/ at that ref (`git show`), compares it with
the working tree's spec/ and classifies every change by who reads what:

- what clients send (socket `receive` payloads, REST requests and parameters): a new
  required field, a tightened bound, a removed enum value or property breaks old clients;
  relaxing is compatible;
- what the server sends (socket `send` payloads, acks, REST responses): removing a field or
  making it optional, a relaxed bound, a new enum value (error codes too) breaks clients;
  a new field is compatible (clients ignore fields they do not know);
- removing an event or operation a client uses, or changing its room, breaks it; adding
  one is compatible; descriptions, summaries and examples are documentation.

It prints a report and exits 1 when a change breaks clients and `info.version`'s major
number was not raised (the policy in the specs' "Versioning" section).

Without a ref it compares with the last released contract (`./dev check` does this, so CI
does): the highest `contract-v<MAJOR.MINOR.PATCH>` tag in HEAD's history; with no such tag,
the last commit whose specs carried another `info.version` than the working tree's (the
previous version, taken as released once the version moved on); with neither, nothing was
released yet and there is nothing to compare. CONTRIBUTING.md says when to tag.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codegen.loader import deref, load_yaml

Json = Any

BREAKING = "breaking"
COMPATIBLE = "compatible"
DOCS = "docs"
REQUEST = "request"
RESPONSE = "response"

DOC_KEYS = frozenset(
    {"description", "summary", "title", "examples", "example", "externalDocs", "tags", "$comment"}
)
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
METHODS = ("get", "put", "post", "delete", "patch", "options", "head")


@dataclass(frozen=True)
class Change:
    """One difference between the versions, and what it does to clients."""

    spec: str
    where: str
    what: str
    level: str

    def __str__(self) -> str:
        return f"{self.level:<10} {self.spec}: {self.where}: {self.what}"


def _types(schema: Json) -> set[str] | None:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind is None:
        return None
    return set(kind) if isinstance(kind, list) else {str(kind)}


def _widened(direction: str) -> str:
    """A change that accepts more: fine for what the server reads, breaking for what it sends."""
    return COMPATIBLE if direction == REQUEST else BREAKING


def _narrowed(direction: str) -> str:
    """A change that accepts less: breaking for what the server reads, fine for what it sends."""
    return BREAKING if direction == REQUEST else COMPATIBLE


def _strip_docs(node: Json) -> Json:
    if isinstance(node, dict):
        return {k: _strip_docs(v) for k, v in node.items() if k not in DOC_KEYS}
    if isinstance(node, list):
        return [_strip_docs(v) for v in node]
    return node


def compare_schemas(
    old: Json, new: Json, where: str, direction: str
) -> Iterator[tuple[str, str, str]]:
    """(where, what, level) for every difference between two schemas read in one direction."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        if _strip_docs(old) != _strip_docs(new):
            yield where, f"changed from {old!r} to {new!r}", BREAKING
        return
    if _strip_docs(old) == _strip_docs(new):
        if old != new:
            yield where, "documentation changed", DOCS
        return
    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        if old_types is None or new_types is None:
            level = _widened(direction) if new_types is None else _narrowed(direction)
        elif new_types > old_types:
            level = _widened(direction)
        elif new_types < old_types:
            level = _narrowed(direction)
        else:
            level = BREAKING
        yield where, f"type {sorted(old_types or ['any'])} → {sorted(new_types or ['any'])}", level
    yield from _compare_values(old, new, where, direction)
    yield from _compare_bounds(old, new, where, direction)
    yield from _compare_object(old, new, where, direction)
    if "items" in old or "items" in new:
        yield from compare_schemas(
            old.get("items", {}), new.get("items", {}), f"{where}[]", direction
        )
    for key in ("anyOf", "oneOf"):
        if key in old or key in new:
            yield from _compare_alternatives(
                old.get(key, []), new.get(key, []), f"{where}.{key}", direction
            )
    for key in ("format", "pattern"):
        if old.get(key) != new.get(key):
            if key not in new:
                level = _widened(direction)
            elif key not in old:
                level = _narrowed(direction)
            else:
                level = BREAKING
            yield where, f"{key} {old.get(key)!r} → {new.get(key)!r}", level


def _compare_values(
    old: Json, new: Json, where: str, direction: str
) -> Iterator[tuple[str, str, str]]:
    old_values = old.get("enum", [old["const"]] if "const" in old else None)
    new_values = new.get("enum", [new["const"]] if "const" in new else None)
    if old_values == new_values:
        return
    if old_values is None:
        yield where, f"now limited to {new_values!r}", _narrowed(direction)
        return
    if new_values is None:
        yield where, f"no longer limited to {old_values!r}", _widened(direction)
        return
    added = [v for v in new_values if v not in old_values]
    removed = [v for v in old_values if v not in new_values]
    if added:
        yield where, f"new values {added!r}", _widened(direction)
    if removed:
        yield where, f"values removed {removed!r}", _narrowed(direction)


def _compare_bounds(
    old: Json, new: Json, where: str, direction: str
) -> Iterator[tuple[str, str, str]]:
    for key in LOWER_BOUNDS + UPPER_BOUNDS:
        a, b = old.get(key), new.get(key)
        if a == b or isinstance(a, bool) or isinstance(b, bool):
            continue
        lower = key in LOWER_BOUNDS
        if a is None:
            tighter = True
        elif b is None:
            tighter = False
        else:
            tighter = b > a if lower else b < a
        level = _narrowed(direction) if tighter else _widened(direction)
        yield where, f"{key} {a!r} → {b!r} ({'tightened' if tighter else 'relaxed'})", level


def _compare_object(
    old: Json, new: Json, where: str, direction: str
) -> Iterator[tuple[str, str, str]]:
    old_props: dict[str, Json] = old.get("properties", {}) or {}
    new_props: dict[str, Json] = new.get("properties", {}) or {}
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    closed = new.get("additionalProperties") is False
    for name in sorted(old_props.keys() - new_props.keys()):
        if direction == REQUEST:
            level = BREAKING if closed else COMPATIBLE
            yield f"{where}.{name}", "property removed (old clients still send it)", level
        else:
            yield f"{where}.{name}", "property removed (clients read it)", BREAKING
    for name in sorted(new_props.keys() - old_props.keys()):
        if direction == REQUEST and name in new_required:
            yield f"{where}.{name}", "new required property (old clients do not send it)", BREAKING
        else:
            yield (
                f"{where}.{name}",
                "new optional property" if direction == REQUEST else "new property",
                COMPATIBLE,
            )
    for name in sorted(old_props.keys() & new_props.keys()):
        yield from compare_schemas(old_props[name], new_props[name], f"{where}.{name}", direction)
        if name in new_required and name not in old_required:
            yield f"{where}.{name}", "now required", _narrowed(direction)
        if name in old_required and name not in new_required:
            yield f"{where}.{name}", "no longer required", _widened(direction)
    old_add, new_add = old.get("additionalProperties", True), new.get("additionalProperties", True)
    if old_add is False and new_add is not False:
        # Clients ignore fields they do not know: more fields from the server are fine too.
        yield where, "now accepts unknown properties", COMPATIBLE
    elif old_add is not False and new_add is False:
        yield where, "no longer accepts unknown properties", _narrowed(direction)


def _compare_alternatives(
    old: list[Json], new: list[Json], where: str, direction: str
) -> Iterator[tuple[str, str, str]]:
    def key(i: int, schema: Json) -> str:
        return str(schema.get("title", i)) if isinstance(schema, dict) else str(i)

    old_by = {key(i, s): s for i, s in enumerate(old)}
    new_by = {key(i, s): s for i, s in enumerate(new)}
    for name in old_by.keys() - new_by.keys():
        yield f"{where}[{name}]", "alternative removed", _narrowed(direction)
    for name in new_by.keys() - old_by.keys():
        yield f"{where}[{name}]", "alternative added", _widened(direction)
    for name in old_by.keys() & new_by.keys():
        yield from compare_schemas(old_by[name], new_by[name], f"{where}[{name}]", direction)


# ---- AsyncAPI --------------------------------------------------------------------------------


@dataclass
class SocketOp:
    """An event of the AsyncAPI document, as compat sees it."""

    action: str
    payload: Json
    reply: Json | None
    room: str | None
    errors: frozenset[str]
    exclude_sender: bool
    raw: Json
    rate_limit: Json = None


def socket_ops(path: Path) -> dict[str, SocketOp]:
    """Event name → operation (`receive` or `send`)."""
    doc = load_yaml(path)
    channels = doc.get("channels", {})
    out: dict[str, SocketOp] = {}
    for op in doc.get("operations", {}).values():
        ref = op.get("channel", {}).get("$ref", "")
        channel = channels.get(str(ref).rsplit("/", 1)[-1], {})
        reply_msgs = op.get("reply", {}).get("messages", [])
        reply = None
        if reply_msgs:
            replies = [deref(m, path).get("payload", {}) for m in reply_msgs]
            reply = replies[0] if len(replies) == 1 else {"anyOf": replies}
        for msg in op.get("messages", []):
            message = deref(msg, path)
            out[str(message["name"])] = SocketOp(
                action=str(op["action"]),
                payload=message.get("payload", {}),
                reply=reply,
                room=channel.get("address"),
                errors=frozenset(str(c) for c in op.get("x-errors", [])),
                exclude_sender=bool(op.get("x-socketio-exclude-sender", False)),
                raw=_strip_docs({k: v for k, v in deref(op, path).items() if k != "x-rate-limit"}),
                rate_limit=op.get("x-rate-limit"),
            )
    return out


def compare_rate_limits(old: Json, new: Json) -> Iterator[tuple[str, str]]:
    """(what, level) for a changed `x-rate-limit`: a limit on what clients send is a bound.

    A new or tighter limit (fewer events, a longer window, a coarser key) can refuse what
    an old client sends: breaking. A looser one, or none any more, is compatible.
    """
    if old == new:
        return
    if new is None:
        yield "rate limit removed", COMPATIBLE
        return
    if old is None:
        yield f"rate limit added {new!r}", BREAKING
        return
    old_rate = float(old["limit"]) / float(old["windowSeconds"])
    new_rate = float(new["limit"]) / float(new["windowSeconds"])
    tighter = (
        new_rate < old_rate
        or int(new["limit"]) < int(old["limit"])
        or not set(new["per"]) >= set(old["per"])
        or (new.get("counter") != old.get("counter"))
        or (new.get("countedAfter", "payload") != old.get("countedAfter", "payload"))
    )
    yield f"rate limit {old!r} → {new!r}", BREAKING if tighter else COMPATIBLE


def compare_asyncapi(old_path: Path, new_path: Path) -> list[Change]:
    """Every change between two AsyncAPI documents."""
    spec = "asyncapi"
    old, new = socket_ops(old_path), socket_ops(new_path)
    changes: list[Change] = []

    def add(where: str, what: str, level: str) -> None:
        changes.append(Change(spec, where, what, level))

    for event in sorted(old.keys() - new.keys()):
        who = "clients send it" if old[event].action == "receive" else "clients listen to it"
        add(event, f"event removed ({who})", BREAKING)
    for event in sorted(new.keys() - old.keys()):
        add(event, f"new {new[event].action} event", COMPATIBLE)
    for event in sorted(old.keys() & new.keys()):
        a, b = old[event], new[event]
        if a.action != b.action:
            add(event, f"direction {a.action} → {b.action}", BREAKING)
            continue
        direction = REQUEST if a.action == "receive" else RESPONSE
        for where, what, level in compare_schemas(
            a.payload, b.payload, f"{event} payload", direction
        ):
            add(where, what, level)
        if a.reply is not None or b.reply is not None:
            if b.reply is None:
                add(event, "ack removed", BREAKING)
            elif a.reply is None:
                add(event, "ack added", COMPATIBLE)
            else:
                for where, what, level in compare_schemas(
                    a.reply, b.reply, f"{event} ack", RESPONSE
                ):
                    add(where, what, level)
        if a.room != b.room:
            add(event, f"room {a.room!r} → {b.room!r}", BREAKING)
        if a.exclude_sender != b.exclude_sender:
            add(event, f"exclude-sender {a.exclude_sender} → {b.exclude_sender}", BREAKING)
        if b.errors - a.errors:
            add(event, f"new error codes {sorted(b.errors - a.errors)}", BREAKING)
        if a.errors - b.errors:
            add(event, f"error codes no longer answered {sorted(a.errors - b.errors)}", COMPATIBLE)
        for what, level in compare_rate_limits(a.rate_limit, b.rate_limit):
            add(event, what, level)
        if not any(c.where.startswith(event) for c in changes) and a.raw != b.raw:
            add(event, "operation changed", BREAKING)
    old_doc, new_doc = load_yaml(old_path), load_yaml(new_path)
    if _strip_docs(old_doc) == _strip_docs(new_doc) and old_doc != new_doc and not changes:
        add("document", "documentation changed", DOCS)
    elif not changes and old_doc != new_doc:
        add("document", "changed outside operations and payloads", DOCS)
    return changes


# ---- OpenAPI ---------------------------------------------------------------------------------


def rest_ops(path: Path) -> dict[str, Json]:
    """`METHOD /path` → the dereferenced operation (with the path's own parameters)."""
    doc = load_yaml(path)
    out: dict[str, Json] = {}
    for route, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                op = deref(item[method], path)
                op["parameters"] = deref(shared, path) + op.get("parameters", [])
                op.setdefault("security", doc.get("security", []))
                out[f"{method.upper()} {route}"] = op
    return out


def compare_openapi(old_path: Path, new_path: Path) -> list[Change]:
    """Every change between two OpenAPI documents."""
    spec = "openapi"
    old, new = rest_ops(old_path), rest_ops(new_path)
    changes: list[Change] = []

    def add(where: str, what: str, level: str) -> None:
        changes.append(Change(spec, where, what, level))

    for key in sorted(old.keys() - new.keys()):
        add(key, "operation removed", BREAKING)
    for key in sorted(new.keys() - old.keys()):
        add(key, "new operation", COMPATIBLE)
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        if _strip_docs(a) == _strip_docs(b):
            if a != b:
                add(key, "documentation changed", DOCS)
            continue
        if _strip_docs(a.get("security")) != _strip_docs(b.get("security")):
            add(key, "authentication changed", BREAKING)
        a_params = {(p.get("in"), p.get("name")): p for p in a.get("parameters", [])}
        b_params = {(p.get("in"), p.get("name")): p for p in b.get("parameters", [])}
        for loc, name in sorted(b_params.keys() - a_params.keys(), key=str):
            level = BREAKING if b_params[(loc, name)].get("required") else COMPATIBLE
            add(
                f"{key} {loc} {name}",
                "new parameter" + (" (required)" if level == BREAKING else ""),
                level,
            )
        for loc, name in sorted(a_params.keys() - b_params.keys(), key=str):
            level = BREAKING if loc == "path" else COMPATIBLE
            add(f"{key} {loc} {name}", "parameter removed", level)
        for pk in sorted(a_params.keys() & b_params.keys(), key=str):
            pa, pb = a_params[pk], b_params[pk]
            if pb.get("required") and not pa.get("required"):
                add(f"{key} {pk[0]} {pk[1]}", "now required", BREAKING)
            for where, what, level in compare_schemas(
                pa.get("schema", {}), pb.get("schema", {}), f"{key} {pk[0]} {pk[1]}", REQUEST
            ):
                add(where, what, level)
        a_body, b_body = a.get("requestBody"), b.get("requestBody")
        if a_body is None and b_body is not None:
            add(
                f"{key} body",
                "new request body",
                BREAKING if b_body.get("required") else COMPATIBLE,
            )
        elif a_body is not None and b_body is None:
            add(f"{key} body", "request body removed", BREAKING)
        elif a_body is not None and b_body is not None:
            if b_body.get("required") and not a_body.get("required"):
                add(f"{key} body", "body now required", BREAKING)
            for where, what, level in compare_schemas(
                _json_schema(a_body), _json_schema(b_body), f"{key} body", REQUEST
            ):
                add(where, what, level)
        a_resp, b_resp = a.get("responses", {}), b.get("responses", {})
        for status in sorted(b_resp.keys() - a_resp.keys()):
            add(f"{key} {status}", "new response status (clients do not expect it)", BREAKING)
        for status in sorted(a_resp.keys() - b_resp.keys()):
            add(f"{key} {status}", "response status no longer sent", COMPATIBLE)
        for status in sorted(a_resp.keys() & b_resp.keys()):
            for where, what, level in compare_schemas(
                _json_schema(a_resp[status]),
                _json_schema(b_resp[status]),
                f"{key} {status}",
                RESPONSE,
            ):
                add(where, what, level)
        a_codes, b_codes = set(a.get("x-error-codes", [])), set(b.get("x-error-codes", []))
        if b_codes - a_codes:
            add(key, f"new error codes {sorted(b_codes - a_codes)}", BREAKING)
        if a_codes - b_codes:
            add(key, f"error codes no longer answered {sorted(a_codes - b_codes)}", COMPATIBLE)
        a_emits = {(e.get("event"), e.get("room")) for e in a.get("x-emits", [])}
        b_emits = {(e.get("event"), e.get("room")) for e in b.get("x-emits", [])}
        for event, room in sorted(a_emits - b_emits, key=str):
            add(key, f"no longer emits {event} to {room}", BREAKING)
        for event, room in sorted(b_emits - a_emits, key=str):
            add(key, f"now emits {event} to {room}", COMPATIBLE)
        if not any(c.where.startswith(key) for c in changes):
            add(key, "operation changed", BREAKING)
    return changes


def _json_schema(node: Json) -> Json:
    content = node.get("content", {}) if isinstance(node, dict) else {}
    media: Json = content.get("application/json") or next(iter(content.values()), {})
    return media.get("schema", {}) if isinstance(media, dict) else {}


# ---- versions and the verdict ----------------------------------------------------------------


def major(version: str) -> int:
    """`1.4.2` → 1 (0 when it cannot tell)."""
    head = version.split(".", 1)[0].lstrip("v")
    return int(head) if head.isdigit() else 0


@dataclass
class Report:
    """The changes between two spec directories and whether the version allows them."""

    changes: list[Change]
    versions: dict[str, tuple[str, str]]

    @property
    def breaking(self) -> list[Change]:
        """Changes that break clients of the old version."""
        return [c for c in self.changes if c.level == BREAKING]

    @property
    def needed(self) -> str:
        """The smallest version bump the changes need."""
        if self.breaking:
            return "major"
        if any(c.level == COMPATIBLE for c in self.changes):
            return "minor"
        return "patch" if self.changes else "none"

    @property
    def ok(self) -> bool:
        """No breaking change, or the major version of every changed spec was raised."""
        for spec, (old, new) in self.versions.items():
            if any(c.spec == spec for c in self.breaking) and major(new) <= major(old):
                return False
        return True

    def text(self) -> str:
        """The printed report."""
        lines = []
        for spec, (old, new) in sorted(self.versions.items()):
            lines.append(f"{spec}: info.version {old} → {new}")
        for change in sorted(self.changes, key=lambda c: (c.level != BREAKING, c.spec, c.where)):
            lines.append(f"  {change}")
        lines.append(
            f"{len(self.breaking)} breaking of {len(self.changes)} changes; "
            f"needs a {self.needed} version bump"
        )
        if not self.ok:
            lines.append("FAIL: breaking changes without a new major version")
        return "\n".join(lines)


def compare_dirs(old_dir: Path, new_dir: Path) -> Report:
    """Compare spec/asyncapi.yaml and spec/openapi.yaml of two directories."""
    changes: list[Change] = []
    versions: dict[str, tuple[str, str]] = {}
    for name, compare in (("asyncapi", compare_asyncapi), ("openapi", compare_openapi)):
        old_path, new_path = old_dir / f"{name}.yaml", new_dir / f"{name}.yaml"
        if not old_path.exists() or not new_path.exists():
            continue
        changes += compare(old_path, new_path)
        versions[name] = (
            str(load_yaml(old_path).get("info", {}).get("version", "")),
            str(load_yaml(new_path).get("info", {}).get("version", "")),
        )
    return Report(changes, versions)


def checkout_specs(ref: str, into: Path, *, repo: Path, spec_dir: str = "spec") -> Path:
    """Write the spec directory as it was at `ref` into a directory; return it."""
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", ref, "--", spec_dir],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in listing:
        blob = subprocess.run(
            ["git", "show", f"{ref}:{name}"], cwd=repo, check=True, capture_output=True
        ).stdout
        target = into / Path(name).relative_to(spec_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
    return into


# ---- the last released contract ---------------------------------------------------------------

TAG_PREFIX = "contract-v"
SPEC_FILES = ("asyncapi.yaml", "openapi.yaml")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class HistoryMissing(RuntimeError):
    """The repository lacks what finding the released contract needs (a shallow clone)."""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def version_key(text: str) -> tuple[int, int, int] | None:
    """`1.4.2` → (1, 4, 2); None for anything else."""
    match = _VERSION.match(text)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def _version_of(text: str) -> str | None:
    doc = yaml.safe_load(text)
    info = doc.get("info", {}) if isinstance(doc, dict) else {}
    version = info.get("version") if isinstance(info, dict) else None
    return None if version is None else str(version)


def _versions_at(repo: Path, commit: str, spec_dir: str) -> dict[str, str]:
    """Spec file → `info.version` at a commit (files missing there are left out)."""
    names = _git(repo, "ls-tree", "-r", "--name-only", commit, "--", spec_dir).split()
    found: dict[str, str] = {}
    for name in SPEC_FILES:
        path = f"{spec_dir}/{name}"
        if path in names:
            version = _version_of(_git(repo, "show", f"{commit}:{path}"))
            if version is not None:
                found[name] = version
    return found


def released_ref(repo: Path, *, spec_dir: str = "spec") -> tuple[str, str] | None:
    """The git ref of the last released contract and how it was found; None if none yet.

    1. The highest `contract-v<version>` tag in HEAD's history.
    2. Else the newest commit (first-parent history of HEAD, among those that changed the
       specs) where a spec's `info.version` differs from the working tree's: the previous
       version's last state.
    3. Else None: one version only, never tagged, so never released.
    """
    if _git(repo, "rev-parse", "--is-shallow-repository") == "true":
        raise HistoryMissing(
            "a shallow clone: the released contract needs tags and history "
            "(git fetch --unshallow --tags)"
        )
    tags = _git(repo, "tag", "--merged", "HEAD", "--list", f"{TAG_PREFIX}*").split()
    versioned = [(key, tag) for tag in tags if (key := version_key(tag[len(TAG_PREFIX) :]))]
    if versioned:
        return max(versioned)[1], "the last released contract (highest contract-v* tag)"
    current: dict[str, str] = {}
    for name in SPEC_FILES:
        path = repo / spec_dir / name
        if path.exists() and (version := _version_of(path.read_text(encoding="utf-8"))):
            current[name] = version
    paths = [f"{spec_dir}/{name}" for name in SPEC_FILES]
    for commit in _git(repo, "rev-list", "--first-parent", "HEAD", "--", *paths).split():
        then = _versions_at(repo, commit, spec_dir)
        if any(name in current and current[name] != v for name, v in then.items()):
            return commit[:12], "no contract-v* tag: the last commit of the previous version"
    return None


def main(argv: list[str] | None = None) -> int:
    """`python -m conformance.compat [ref] [--repo DIR]`."""
    from conformance import ROOT

    parser = argparse.ArgumentParser(
        prog="python -m conformance.compat", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "ref",
        nargs="?",
        help="the git ref to compare spec/ with (e.g. origin/main, contract-v1.0.0); "
        "default: the last released contract",
    )
    parser.add_argument(
        "--repo", type=Path, default=ROOT, help="the repository (default: this project)"
    )
    args = parser.parse_args(argv)
    repo: Path = args.repo.resolve()
    ref, why = args.ref, "given"
    if ref is None:
        try:
            found = released_ref(repo)
        except HistoryMissing as exc:
            print(f"cannot find the released contract: {exc}", file=sys.stderr)
            return 2
        if found is None:
            print(
                "no released contract yet (no contract-v* tag, no earlier info.version): "
                "nothing to compare. Tag a release as CONTRIBUTING.md says."
            )
            return 0
        ref, why = found
    with tempfile.TemporaryDirectory(prefix="zizany-compat-") as tmp:
        old_dir = checkout_specs(ref, Path(tmp), repo=repo)
        report = compare_dirs(old_dir, repo / "spec")
    print(f"spec/ at {ref} ({why}) → working tree")
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
