"""Pydantic v2 models from a spec's `components.schemas`, via datamodel-code-generator."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from datamodel_code_generator import Formatter, InputFileType, PythonVersion, generate
from datamodel_code_generator._shared_types import LiteralType
from datamodel_code_generator.enums import DataModelType

from codegen.loader import load_yaml, resolve_pointer, split_ref

Json = Any
_DOC_ONLY = {"examples", "example", "$schema"}


def bundle_schemas(spec_path: Path, components: dict[str, Json]) -> dict[str, Json]:
    """One JSON Schema whose `$defs` hold every component schema and the shared ones it uses.

    Local refs become `#/$defs/<Name>`; a component that only points at a shared
    definition (`Message: {$ref: ./common.yaml#/$defs/Message}`) becomes that definition.
    """
    defs: dict[str, Json] = {}
    pending: list[tuple[str, Path, Json]] = []

    def rewrite(node: Json, base: Path) -> Json:
        if isinstance(node, list):
            return [rewrite(item, base) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Json] = {}
        for key, value in node.items():
            if key in _DOC_ONLY:
                continue
            if key == "format" and value == "date-time":
                # On the wire a timestamp is a string with a fixed pattern; keep it a str.
                continue
            if key == "$ref":
                target, pointer = split_ref(value, base)
                name = pointer.rsplit("/", 1)[-1]
                if target != spec_path.resolve() or not pointer.startswith("/components/schemas/"):
                    pending.append((name, target, resolve_pointer(load_yaml(target), pointer)))
                out[key] = f"#/$defs/{name}"
                continue
            out[key] = rewrite(value, base)
        return out

    for name, schema in components.items():
        if set(schema) == {"$ref"}:
            target, pointer = split_ref(schema["$ref"], spec_path)
            if pointer.rsplit("/", 1)[-1] != name:
                raise ValueError(f"component {name!r} must keep the shared schema's name")
            pending.append((name, target, resolve_pointer(load_yaml(target), pointer)))
            continue
        defs[name] = rewrite(schema, spec_path)
    while pending:
        name, base, schema = pending.pop()
        if name not in defs:
            defs[name] = rewrite(schema, base)
    return {"title": "Contract", "type": "object", "$defs": _inline_scalars(defs)}


def _inline_scalars(defs: dict[str, Json]) -> dict[str, Json]:
    """Replace refs to scalar definitions (ids, names, enums) by their constraints.

    Handlers then pass plain `int`/`str` values (also inside lists) instead of
    wrapper RootModels; object and union definitions stay classes.
    """
    scalars = {
        name: schema
        for name, schema in defs.items()
        if schema.get("type") in ("integer", "string", "number", "boolean")
    }

    def inline(node: Json) -> Json:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref", "")
        name = ref.rsplit("/", 1)[-1]
        if name in scalars:
            # Without its title the scalar is not turned into a class of its own.
            body = {k: v for k, v in scalars[name].items() if k not in ("title", "description")}
            return inline({**body, **{k: v for k, v in node.items() if k != "$ref"}})
        out = {k: inline(v) for k, v in node.items()}
        return _simplify(out)

    return {name: inline(s) for name, s in sorted(defs.items()) if name not in scalars}


_SCALAR_TYPES = ("integer", "string", "number", "boolean")


def _simplify(node: dict[str, Json]) -> dict[str, Json]:
    """Shapes datamodel-code-generator would wrap in a RootModel, made plain.

    `anyOf: [scalar, null]` becomes one nullable scalar; constrained scalar array items
    keep only their type. The models stay as typed as pydantic can say inline; the
    spec's exact JSON Schema still checks every inbound payload and every emit.
    """
    branches = node.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2:
        nulls = [b for b in branches if b == {"type": "null"}]
        others = [b for b in branches if b != {"type": "null"}]
        if len(nulls) == 1 and others[0].get("type") in _SCALAR_TYPES:
            merged = {k: v for k, v in node.items() if k != "anyOf"}
            merged.update(others[0])
            merged["type"] = [others[0]["type"], "null"]
            if "enum" in merged:
                merged["enum"] = [*merged["enum"], None]
            return merged
    items = node.get("items")
    if (
        node.get("type") == "array"
        and isinstance(items, dict)
        and items.get("type") in _SCALAR_TYPES
        and "enum" not in items
    ):
        node = {**node, "items": {"type": items["type"]}}
    return node


def render_models(bundle: dict[str, Json]) -> str:
    """Run datamodel-code-generator on a bundle; return the module text (no header)."""
    text = generate(
        json.dumps(bundle),
        input_file_type=InputFileType.JsonSchema,
        output_model_type=DataModelType.PydanticV2BaseModel,
        target_python_version=PythonVersion.PY_311,
        formatters=[Formatter.BUILTIN],
        disable_timestamp=True,
        use_annotated=True,
        field_constraints=True,
        use_standard_collections=True,
        use_union_operator=True,
        enum_field_as_literal=LiteralType.All,
        use_title_as_name=True,
        use_double_quotes=True,
        strict_nullable=True,
        collapse_root_models=True,
        use_schema_description=True,
    )
    if not isinstance(text, str):
        raise TypeError("datamodel-code-generator returned several modules; expected one")
    # The bundle's root only carries `$defs`; its empty model is noise.
    text = text.replace("class Contract(BaseModel):\n    pass\n\n\n", "", 1)
    lines = text.splitlines()
    # Drop the tool's own banner (it names a temporary input); ours names the spec.
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines).rstrip() + "\n"


SHARED_MODULE = "generated.common.models"


def render_shared(common_path: Path) -> str:
    """The models of every object schema in spec/common.yaml: the one class each spec uses."""
    doc = load_yaml(common_path)
    return render_models(bundle_schemas(common_path, doc["$defs"]))


def _classes(text: str) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in ast.parse(text).body if isinstance(node, ast.ClassDef)}


def use_shared(text: str, shared: str, module: str = SHARED_MODULE) -> str:
    """`text` (a models module) with the classes of `shared` imported from `module`.

    A class both define must be the same source, so a spec that redefines a shared
    schema under its name fails here instead of shadowing it.
    """
    theirs = _classes(shared)
    lines = text.splitlines(keepends=True)
    taken: list[str] = []
    for name, node in sorted(_classes(text).items(), key=lambda item: -item[1].lineno):
        if name not in theirs:
            continue
        mine = ast.get_source_segment(text, node)
        if mine != ast.get_source_segment(shared, theirs[name]):
            raise ValueError(f"model {name!r} differs from the shared one in {module}")
        start = node.lineno - 1 - len(node.decorator_list)
        assert node.end_lineno is not None
        del lines[start : node.end_lineno]
        taken.append(name)
    if not taken:
        return text
    tree = ast.parse(text)
    last_import = max(
        node.end_lineno or node.lineno
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
    )
    names = ", ".join(f"{name} as {name}" for name in sorted(taken))
    # `X as X` re-exports: `generated.rest.models.Message` is the shared class.
    lines.insert(last_import, f"\nfrom {module} import {names}\n")
    return re.sub(r"\n{3,}", "\n\n\n", "".join(lines))
