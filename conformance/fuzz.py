"""Payloads for the receive operations: valid ones from their schemas, and invalid ones.

Valid payloads come from hypothesis-jsonschema. Every integer property whose name says it
holds an id (`serverId`, `channel_id`) is, most of the time, swapped at send time for an id
that exists in the world (learned from the seeding and from every payload received), so
the server does real work instead of answering "not found". Invalid payloads are schema
mutations: wrong types, missing and extra properties, out-of-range and huge numbers, empty
and oversized strings, null, arrays and other non-objects, no argument or two.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis_jsonschema import from_schema

from conformance.spec import Contract, id_kind

Json = Any
T = TypeVar("T")

# Below the server's transport limit (engine.io's max_http_buffer_size, 64 KiB by default):
# a frame over it closes the connection, which the contract does not cover.
HUGE_STRING = 60_000

JSON_LEAVES: st.SearchStrategy[Json] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
ANY_JSON: st.SearchStrategy[Json] = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@dataclass(frozen=True)
class Template:
    """A valid payload whose id properties may point at ids that exist when it is sent."""

    base: Json
    refs: Mapping[str, int | None]

    def resolve(self, ids: Mapping[str, Sequence[int]], *, newest: int | None = None) -> Json:
        """The payload, with referenced ids replaced by known ones of their kind.

        `newest=k` replaces every id property with the k-th newest known id of its kind.
        """
        if not isinstance(self.base, dict):
            return self.base
        payload = dict(self.base)
        for prop, ref in self.refs.items():
            kind = id_kind(prop)
            known = ids.get(kind, ()) if kind is not None else ()
            if not known or prop not in payload:
                continue
            if newest is not None:
                payload[prop] = known[max(0, len(known) - 1 - newest)]
            elif ref is not None:
                payload[prop] = known[ref % len(known)]
        return payload


def schema_values(schema: Json) -> st.SearchStrategy[Json]:
    """Values valid against a JSON Schema.

    Objects are assembled here (required properties, then any subset of the optional ones)
    and everything else comes from hypothesis-jsonschema: its own object strategy relies on
    Hypothesis internals that newer Hypothesis releases changed.
    """
    if not isinstance(schema, dict):
        return from_schema(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema and isinstance(schema[key], list):
            rest = {k: v for k, v in schema.items() if k != key}
            return st.one_of([schema_values({**rest, **alt}) for alt in schema[key]])
    props = schema.get("properties")
    if schema.get("type") == "object" or isinstance(props, dict):
        props = props if isinstance(props, dict) else {}
        required = [p for p in schema.get("required", []) if p in props]
        optional = {p: schema_values(sub) for p, sub in props.items() if p not in required}
        return st.fixed_dictionaries(
            {p: schema_values(props[p]) for p in required}, optional=optional
        )
    return from_schema(schema)


def _id_props(schema: Json) -> list[str]:
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return sorted(
        name
        for name, sub in props.items()
        if id_kind(name) is not None and isinstance(sub, dict) and sub.get("type") == "integer"
    )


def valid_templates(schema: Json) -> st.SearchStrategy[Template]:
    """Valid payloads of a schema; id properties point at existing ids three times in four."""
    ref = st.one_of(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6), st.none())
    refs = st.fixed_dictionaries({name: ref for name in _id_props(schema)})
    return st.builds(Template, base=schema_values(schema), refs=refs)


@dataclass(frozen=True)
class Invalid:
    """An invalid request: its arguments (a tuple: zero, one or several) and what is wrong."""

    args: tuple[Any, ...]
    why: str


def _wrong_values(prop: Json, *, huge_literals: bool = False) -> list[tuple[Json, str]]:
    """Values a property schema rejects: bounds, lengths, huge numbers, wrong types.

    `huge_literals` adds a number beyond the float range (valid JSON that some JSON
    decoders reject).
    """
    out: list[tuple[Json, str]] = []
    kind = prop.get("type")
    if kind == "integer" or kind == "number":
        lo, hi = prop.get("minimum"), prop.get("maximum")
        if isinstance(lo, int | float):
            out += [(lo - 1, "below minimum"), (-(10**30), "hugely negative")]
        if isinstance(hi, int | float):
            out += [(hi + 1, "above maximum"), (10**30, "huge"), (2**64, "beyond 64 bits")]
        out += [(1e308, "huge float"), (-0.5, "negative fraction")]
        if kind == "integer":
            out += [(1.5, "a fraction"), ("1", "a numeric string")]
        if huge_literals:
            out.append((10**400, "a 400-digit number"))
    if kind == "string":
        lo, hi = prop.get("minLength"), prop.get("maxLength")
        if isinstance(lo, int) and lo > 0:
            out.append(("", "empty string"))
        if isinstance(hi, int):
            out.append(("x" * (hi + 1), "one character too long"))
        out.append(("x" * HUGE_STRING, "oversized string"))
        if prop.get("pattern") is not None:
            out += [("   ", "white space only"), ("\t\n", "control white space")]
        out.append((12, "a number for a string"))
    out += [
        (None, "null"),
        (True, "a boolean"),
        ([], "an empty array"),
        ([1, 2], "an array"),
        ({}, "an object"),
        ({"nested": {"deeper": [1]}}, "a nested object"),
    ]
    return out


def invalid_requests(contract: Contract, event: str) -> st.SearchStrategy[Invalid]:
    """Invalid requests for one receive operation (each checked invalid against its schema)."""
    schema = contract.receive[event].payload
    props: dict[str, Json] = schema.get("properties", {}) if isinstance(schema, dict) else {}
    required: list[str] = list(schema.get("required", [])) if isinstance(schema, dict) else []
    valid = schema_values(schema)

    def replaced(base: Json, prop: str, value: Json, why: str) -> Invalid:
        payload = dict(base) if isinstance(base, dict) else {}
        payload[prop] = value
        return Invalid((payload,), f"{prop}: {why}")

    choices: list[st.SearchStrategy[Invalid]] = []
    for prop, sub in sorted(props.items()):
        wrong = _wrong_values(sub if isinstance(sub, dict) else {})
        choices.append(
            st.builds(
                lambda base, pick, prop=prop: replaced(base, prop, pick[0], pick[1]),
                valid,
                st.sampled_from(wrong),
            )
        )
        choices.append(
            st.builds(
                lambda base, value, prop=prop: replaced(base, prop, value, "any other JSON"),
                valid,
                ANY_JSON,
            )
        )
    if required:
        choices.append(
            st.builds(
                lambda base, prop: Invalid(
                    ({k: v for k, v in base.items() if k != prop},), f"missing {prop}"
                ),
                valid,
                st.sampled_from(required),
            )
        )
    choices.append(
        st.builds(
            lambda base, key, value: Invalid(({**base, key: value},), f"extra property {key!r}"),
            valid,
            st.text(min_size=1, max_size=12).filter(lambda k: k not in props),
            ANY_JSON,
        )
    )
    shapes: list[tuple[tuple[Any, ...], str]] = [
        ((None,), "null payload"),
        (([],), "empty array"),
        (([{"a": 1}],), "array of objects"),
        (("text",), "a string"),
        ((42,), "a number"),
        ((True,), "a boolean"),
        ((b"\x00\x01binary",), "binary"),
        (({},), "empty object"),
        ((), "no argument"),
    ]
    choices.append(st.sampled_from([Invalid(args, why) for args, why in shapes]))
    choices.append(st.builds(lambda a, b: Invalid((a, b), "two arguments"), valid, valid))
    choices.append(st.builds(lambda v: Invalid((v,), "any JSON"), ANY_JSON))

    def is_invalid(candidate: Invalid) -> bool:
        if len(candidate.args) != 1:
            return True
        return bool(contract.request_problems(event, candidate.args[0]))

    return st.one_of(choices).filter(is_invalid)


def edge_invalid_requests(
    contract: Contract, event: str, *, huge_literals: bool = False
) -> list[Invalid]:
    """A fixed list of invalid requests, so every kind is sent at least once per operation."""
    schema = contract.receive[event].payload
    props: dict[str, Json] = schema.get("properties", {}) if isinstance(schema, dict) else {}
    base = example_payload(schema)
    out: list[Invalid] = []
    for prop, sub in sorted(props.items()):
        for value, why in _wrong_values(
            sub if isinstance(sub, dict) else {}, huge_literals=huge_literals
        ):
            payload = dict(base)
            payload[prop] = value
            out.append(Invalid((payload,), f"{prop}: {why}"))
        out.append(Invalid(({k: v for k, v in base.items() if k != prop},), f"missing {prop}"))
    out.append(Invalid(({**base, "unexpected": 1},), "extra property"))
    for args, why in [
        ((None,), "null payload"),
        (([base],), "array"),
        (("text",), "a string"),
        ((3.5,), "a number"),
        ((b"\x00binary",), "binary"),
        (({},), "empty object"),
        ((), "no argument"),
        ((base, base), "two arguments"),
    ]:
        out.append(Invalid(args, why))
    return [c for c in out if len(c.args) != 1 or contract.request_problems(event, c.args[0])]


def example_payload(schema: Json) -> dict[str, Json]:
    """A simple valid-looking object for a schema (required properties at their minimum)."""
    out: dict[str, Json] = {}
    for prop, sub in (schema.get("properties", {}) if isinstance(schema, dict) else {}).items():
        kind = sub.get("type") if isinstance(sub, dict) else None
        if kind == "integer":
            out[prop] = max(1, int(sub.get("minimum", 1)))
        elif kind == "string":
            out[prop] = "x" * max(1, int(sub.get("minLength", 1)))
        elif kind == "boolean":
            out[prop] = True
        else:
            out[prop] = None
    return out


def draw(strategy: st.SearchStrategy[T], count: int, *, seed_value: int) -> list[T]:
    """`count` examples of a strategy (deterministic for a seed), outside any test."""
    found: list[T] = []
    if count <= 0:
        return found

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(seed_value)
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    # Unsatisfiable: nothing to generate (e.g. negative data for an operation without
    # parameters).
    with contextlib.suppress(Unsatisfiable):
        collect()
    return found


def plan(
    contract: Contract,
    make: Callable[[str], st.SearchStrategy[T]],
    per_op: int,
    *,
    seed_value: int,
) -> dict[str, list[T]]:
    """Examples for every receive operation."""
    return {
        event: draw(make(event), per_op, seed_value=seed_value + i)
        for i, event in enumerate(sorted(contract.receive))
    }


def is_finite_json(value: Json) -> bool:
    """No NaN or infinity anywhere (they are not JSON)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(is_finite_json(v) for v in value)
    if isinstance(value, dict):
        return all(is_finite_json(v) for v in value.values())
    return True
