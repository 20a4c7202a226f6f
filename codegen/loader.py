"""Load a spec document and resolve its `$ref`s (local and relative-file) into plain data."""

from __future__ import annotations

import copy
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

Json = Any


@cache
def _parse(path: Path, mtime_ns: int, size: int) -> Json:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _load_file(path: Path) -> Json:
    """The parsed document at `path`, read once per version of the file; never mutate it."""
    stat = path.stat()
    return _parse(path, stat.st_mtime_ns, stat.st_size)


def load_yaml(path: Path) -> Json:
    """Return a deep copy of the parsed YAML document at `path`."""
    return copy.deepcopy(_load_file(path.resolve()))


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_ref(ref: str, base: Path) -> tuple[Path, str]:
    """Split `./common.yaml#/$defs/Id` into (absolute file, json pointer)."""
    file_part, _, pointer = ref.partition("#")
    target = (base.parent / file_part).resolve() if file_part else base.resolve()
    return target, pointer


def resolve_pointer(doc: Json, pointer: str) -> Json:
    """Follow a JSON pointer (`/a/b`) inside `doc`."""
    node = doc
    for raw in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def deref(node: Json, base: Path, _seen: tuple[str, ...] = ()) -> Json:
    """Return `node` with every `$ref` replaced by its target, recursively.

    The contract has no recursive schemas; a cycle is reported instead of looping.
    Sibling keys of a `$ref` (e.g. a description) are kept over the target's. The result
    is new containers all the way down (only scalars are shared with the cached parse),
    so targets are read from the cache, not from a deep copy of the file per `$ref`
    (that made one comparison of the specs cost ~40 s of CPU).
    """
    if isinstance(node, list):
        return [deref(item, base, _seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target_file, pointer = split_ref(node["$ref"], base)
        key = f"{target_file}#{pointer}"
        if key in _seen:
            raise ValueError(f"recursive $ref {node['$ref']!r} is not supported")
        target = resolve_pointer(_load_file(target_file), pointer)
        resolved = deref(target, target_file, (*_seen, key))
        extra = {k: deref(v, base, _seen) for k, v in node.items() if k != "$ref"}
        return {**resolved, **extra} if isinstance(resolved, dict) else resolved
    return {k: deref(v, base, _seen) for k, v in node.items()}
