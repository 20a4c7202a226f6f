"""The AsyncAPI document: valid for the official tools, and exactly the seed contract's events."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.paths import ROOT
from tests.support.services import need
from tests.support.spec import (
    ASYNCAPI,
    SEED_COPY,
    SHARED_SEED,
    asyncapi,
    message_schemas,
    seed_events,
)

CHECKER = ROOT / "tools" / "asyncapi_check.mjs"


def run_official_check(path: Path) -> tuple[int, dict[str, Any]]:
    need(shutil.which("node") is not None, "node is not installed")
    need((ROOT / "node_modules" / "@asyncapi" / "parser").is_dir(), "run `npm ci` first")
    done = subprocess.run(
        ["node", str(CHECKER), str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


@pytest.mark.node
def test_asyncapi_validates_against_official_schema_and_parses_without_warnings() -> None:
    code, report = run_official_check(ASYNCAPI)
    assert report["schemaErrors"] == []
    bad = [d for d in report["diagnostics"] if d["severity"] in ("error", "warning")]
    assert bad == []
    assert code == 0


@pytest.mark.node
def test_official_check_rejects_a_broken_document(tmp_path: Path) -> None:
    doc = asyncapi()
    doc["operations"]["serverJoin"]["action"] = "publish"  # AsyncAPI 2 word, invalid in 3
    del doc["channels"]["serverRoom"]["parameters"]
    (tmp_path / "asyncapi.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copy(ROOT / "spec" / "common.yaml", tmp_path / "common.yaml")
    code, report = run_official_check(tmp_path / "asyncapi.yaml")
    assert code == 1
    assert report["schemaErrors"]
    assert any(d["severity"] == "error" for d in report["diagnostics"])


def test_vendored_seed_spec_equals_the_shared_contract() -> None:
    if not SHARED_SEED.exists():
        pytest.skip("../shared/contract is not beside this checkout")
    assert SEED_COPY.read_bytes() == SHARED_SEED.read_bytes()


def test_seed_spec_is_read_completely() -> None:
    names = [e.name for e in seed_events()]
    assert names == [
        "server:join",
        "channel:join",
        "typing:start",
        "typing:stop",
        "message:create",
        "server:joined",
        "channel:joined",
        "typing:update",
        "message:new",
        "presence:update",
        "server:member_joined",
        "server:member_left",
        "error:not_found",
        "error:permission",
    ]


@pytest.mark.parametrize("event", seed_events(), ids=lambda e: e.name)
def test_every_seed_event_has_its_exact_name_direction_and_payload_shape(event: Any) -> None:
    schemas = message_schemas()
    assert event.name in schemas, f"{event.name} is not an operation of the spec"
    action, schema = schemas[event.name]
    assert action == ("receive" if event.section == 5 else "send")
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(event.example)
    if event.section != 7:  # error events may carry the optional `event` / `message` extension
        assert set(schema["properties"]) == set(event.example)
    jsonschema.Draft7Validator(schema).validate(event.example)


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 123
    if isinstance(value, list):
        return "not-a-list"
    return "not-an-object"


def _variants(example: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("extra field", {**example, "bogus": 1})]
    for key, value in example.items():
        missing = {k: v for k, v in example.items() if k != key}
        out.append((f"missing {key}", missing))
        wrong = copy.deepcopy(example)
        wrong[key] = _wrong_type(value)
        out.append((f"{key} of the wrong type", wrong))
        if isinstance(value, dict):
            for inner in value:
                nested = copy.deepcopy(example)
                del nested[key][inner]
                out.append((f"missing {key}.{inner}", nested))
    return out


@pytest.mark.parametrize("event", seed_events(), ids=lambda e: e.name)
def test_seed_payload_variants_are_rejected(event: Any) -> None:
    _, schema = message_schemas()[event.name]
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for what, variant in _variants(event.example):
        assert not validator.is_valid(variant), f"{event.name}: {what} was accepted"


def test_every_message_example_of_the_spec_validates() -> None:
    doc = asyncapi()
    from codegen.loader import deref

    checked = 0
    for key, msg in doc["components"]["messages"].items():
        resolved = deref(msg, ASYNCAPI)
        validator = jsonschema.Draft7Validator(resolved["payload"])
        for example in resolved.get("examples", []):
            errors = list(validator.iter_errors(example["payload"]))
            assert errors == [], f"{key} example {example['name']}: {errors[0].message}"
            checked += 1
    assert checked >= len(doc["components"]["messages"])


def test_extensions_are_tagged_and_seed_events_are_not() -> None:
    seed = {e.name for e in seed_events()}
    doc = asyncapi()
    for op_id, op in doc["operations"].items():
        msg = doc["components"]["messages"][op["messages"][0]["$ref"].rsplit("/", 1)[-1]]
        tags = {t["name"] for t in op.get("tags", [])} | {t["name"] for t in msg.get("tags", [])}
        expected = "seed" if msg["name"] in seed else "extension"
        assert tags == {expected}, f"{op_id} ({msg['name']}) is tagged {tags}"


def test_rooms_are_channels_with_address_templates() -> None:
    channels = asyncapi()["channels"]
    assert channels["serverRoom"]["address"] == "server:{serverId}"
    assert set(channels["serverRoom"]["parameters"]) == {"serverId"}
    assert channels["channelRoom"]["address"] == "channel:{channelId}"
    assert set(channels["channelRoom"]["parameters"]) == {"channelId"}
    assert channels["socket"]["address"] is None


def test_session_cookie_is_the_security_scheme_and_refusal_is_documented() -> None:
    doc = asyncapi()
    scheme = doc["components"]["securitySchemes"]["sessionCookie"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("httpApiKey", "cookie", "connect.sid")
    assert "E_UNAUTHORIZED" in doc["servers"]["local"]["x-socketio"]["connectErrors"]
    assert "E_UNAUTHORIZED" in scheme["description"]


def test_every_receive_operation_has_a_reply() -> None:
    for op_id, op in asyncapi()["operations"].items():
        assert ("reply" in op) == (op["action"] == "receive"), op_id
