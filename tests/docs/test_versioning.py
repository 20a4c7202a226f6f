"""One contract version: both specs carry it, the changelog has its entry, the rule is written
down where client teams read it, and the typed clients name it."""

from __future__ import annotations

import re

import pytest
import yaml

from generated.realtime.client import ZizanyClient
from tests.support.paths import ROOT, SPEC

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def info(name: str) -> dict[str, str]:
    doc = yaml.safe_load((SPEC / name).read_text(encoding="utf-8"))
    return dict(doc["info"])


def test_both_specs_carry_one_semantic_version() -> None:
    version = info("asyncapi.yaml")["version"]
    assert SEMVER.match(version), version
    assert info("openapi.yaml")["version"] == version


def test_the_changelog_starts_with_the_current_version() -> None:
    text = (SPEC / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\S+)", text, re.M)
    assert versions, "spec/CHANGELOG.md has no version entry"
    assert versions[0] == info("asyncapi.yaml")["version"]
    assert len(versions) == len(set(versions))


@pytest.mark.parametrize("name", ["asyncapi.yaml", "openapi.yaml"])
def test_each_spec_states_the_versioning_rule(name: str) -> None:
    description = info(name)["description"]
    assert "## Versioning" in description
    for part in ("**MAJOR**", "**MINOR**", "**PATCH**", "spec/CHANGELOG.md"):
        assert part in description, part


def test_the_typed_clients_name_the_contract_version() -> None:
    version = info("asyncapi.yaml")["version"]
    assert version == ZizanyClient.VERSION
    dts = (ROOT / "generated" / "typescript" / "zizany-events.d.ts").read_text(encoding="utf-8")
    assert f'export type ContractVersion = "{version}";' in dts
