"""The compatibility check on hand-made spec pairs: each change classified by direction."""

from __future__ import annotations

import ast
import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.compat import BREAKING, COMPATIBLE, DOCS, Report, checkout_specs, compare_dirs
from tests.support.paths import ROOT

Doc = dict[str, Any]


def obj(required: list[str], **props: Any) -> Doc:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": props,
    }


ID = {"type": "integer", "minimum": 1}
TEXT = {"type": "string", "minLength": 1, "maxLength": 100}

ASYNC: Doc = {
    "asyncapi": "3.0.0",
    "info": {"title": "t", "version": "1.0.0"},
    "channels": {
        "socket": {"address": None},
        "room": {"address": "channel:{channelId}", "parameters": {"channelId": {}}},
    },
    "operations": {
        "create": {
            "action": "receive",
            "channel": {"$ref": "#/channels/socket"},
            "messages": [{"$ref": "#/components/messages/create"}],
            "x-errors": ["E_VALIDATION"],
        },
        "created": {
            "action": "send",
            "channel": {"$ref": "#/channels/room"},
            "messages": [{"$ref": "#/components/messages/created"}],
        },
        "failed": {
            "action": "send",
            "channel": {"$ref": "#/channels/socket"},
            "messages": [{"$ref": "#/components/messages/failed"}],
        },
    },
    "components": {
        "messages": {
            "create": {
                "name": "note:create",
                "payload": obj(["channelId"], channelId=ID, text=TEXT),
            },
            "created": {"name": "note:new", "payload": obj(["id"], id=ID, text=TEXT)},
            "failed": {
                "name": "error:failed",
                "payload": obj(["code"], code={"type": "string", "enum": ["E_VALIDATION"]}),
            },
        }
    },
}

REST: Doc = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1.0.0"},
    "paths": {
        "/notes": {
            "get": {
                "operationId": "list_notes",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": obj(["id"], id=ID, text=TEXT)}},
                    }
                },
            },
            "post": {
                "operationId": "create_note",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": obj(["text"], text=TEXT)}},
                },
                "responses": {"201": {"description": "created"}},
            },
        }
    },
}


def write(directory: Path, asyncapi: Doc, openapi: Doc) -> Path:
    directory.mkdir(parents=True)
    (directory / "asyncapi.yaml").write_text(yaml.safe_dump(asyncapi), encoding="utf-8")
    (directory / "openapi.yaml").write_text(yaml.safe_dump(openapi), encoding="utf-8")
    return directory


def compare(
    tmp_path: Path,
    change: Callable[[Doc, Doc], None],
    *,
    version: str | None = None,
) -> Report:
    """Compare the base pair with a changed copy (optionally with a new info.version)."""
    new_async, new_rest = copy.deepcopy(ASYNC), copy.deepcopy(REST)
    change(new_async, new_rest)
    if version is not None:
        new_async["info"]["version"] = version
        new_rest["info"]["version"] = version
    old = write(tmp_path / "old", ASYNC, REST)
    new = write(tmp_path / "new", new_async, new_rest)
    return compare_dirs(old, new)


def payload(doc: Doc, message: str) -> Doc:
    schema: Doc = doc["components"]["messages"][message]["payload"]
    return schema


def levels(report: Report) -> set[str]:
    return {c.level for c in report.changes}


def test_a_new_required_field_on_what_clients_send_breaks_old_clients(tmp_path: Path) -> None:
    def change(a: Doc, _: Doc) -> None:
        payload(a, "create")["properties"]["tag"] = TEXT
        payload(a, "create")["required"].append("tag")

    report = compare(tmp_path, change)
    assert levels(report) == {BREAKING} and not report.ok
    assert "note:create payload.tag" in report.text()


def test_the_same_change_passes_with_a_new_major_version(tmp_path: Path) -> None:
    def change(a: Doc, _: Doc) -> None:
        payload(a, "create")["properties"]["tag"] = TEXT
        payload(a, "create")["required"].append("tag")

    assert compare(tmp_path, change, version="2.0.0").ok


def test_a_new_required_field_on_what_the_server_sends_does_not_break(tmp_path: Path) -> None:
    def change(a: Doc, _: Doc) -> None:
        payload(a, "created")["properties"]["tag"] = TEXT
        payload(a, "created")["required"].append("tag")

    report = compare(tmp_path, change)
    assert levels(report) == {COMPATIBLE} and report.ok and report.needed == "minor"


def test_removing_an_event_clients_listen_to_breaks_them(tmp_path: Path) -> None:
    report = compare(tmp_path, lambda a, _: a["operations"].pop("created"))
    assert [c.what for c in report.breaking] == ["event removed (clients listen to it)"]
    assert not report.ok


def test_removing_an_event_clients_send_breaks_them(tmp_path: Path) -> None:
    report = compare(tmp_path, lambda a, _: a["operations"].pop("create"))
    assert [c.what for c in report.breaking] == ["event removed (clients send it)"]


def test_a_new_event_is_compatible(tmp_path: Path) -> None:
    def change(a: Doc, _: Doc) -> None:
        a["operations"]["deleted"] = {
            "action": "send",
            "channel": {"$ref": "#/channels/room"},
            "messages": [{"$ref": "#/components/messages/deleted"}],
        }
        a["components"]["messages"]["deleted"] = {
            "name": "note:deleted",
            "payload": obj(["id"], id=ID),
        }

    assert levels(compare(tmp_path, change)) == {COMPATIBLE}


def test_a_new_error_code_the_server_sends_breaks_clients(tmp_path: Path) -> None:
    def change(a: Doc, _: Doc) -> None:
        payload(a, "failed")["properties"]["code"]["enum"].append("E_NEW")
        a["operations"]["create"]["x-errors"].append("E_NEW")

    report = compare(tmp_path, change)
    assert len(report.breaking) == 2 and not report.ok


@pytest.mark.parametrize(
    ("message", "bound", "expected"),
    [
        ("create", 200, COMPATIBLE),  # clients may send more: fine
        ("create", 50, BREAKING),  # old clients' longer texts are now refused
        ("created", 200, BREAKING),  # clients may receive longer texts than they allow for
        ("created", 50, COMPATIBLE),
    ],
)
def test_bounds_are_judged_by_who_reads_them(
    tmp_path: Path, message: str, bound: int, expected: str
) -> None:
    def change(a: Doc, _: Doc) -> None:
        payload(a, message)["properties"]["text"] = {**TEXT, "maxLength": bound}

    assert levels(compare(tmp_path, change)) == {expected}


def test_a_changed_room_breaks_listeners(tmp_path: Path) -> None:
    def change(a: Doc, _: Doc) -> None:
        a["channels"]["room"]["address"] = "server:{channelId}"

    assert levels(compare(tmp_path, change)) == {BREAKING}


def test_descriptions_are_documentation(tmp_path: Path) -> None:
    def change(a: Doc, r: Doc) -> None:
        payload(a, "create")["description"] = "Create a note."
        r["paths"]["/notes"]["get"]["summary"] = "List the notes."

    report = compare(tmp_path, change)
    assert levels(report) == {DOCS} and report.needed == "patch" and report.ok


def test_rest_new_required_parameter_breaks_and_a_new_response_field_does_not(
    tmp_path: Path,
) -> None:
    def change(_: Doc, r: Doc) -> None:
        get = r["paths"]["/notes"]["get"]
        get["parameters"].append(
            {"name": "board", "in": "query", "required": True, "schema": {"type": "string"}}
        )
        schema = get["responses"]["200"]["content"]["application/json"]["schema"]
        schema["properties"]["tag"] = TEXT

    report = compare(tmp_path, change)
    assert {(c.where.split()[-1], c.level) for c in report.changes} == {
        ("board", BREAKING),
        ("200.tag", COMPATIBLE),
    }


def test_rest_removing_a_response_field_or_an_operation_breaks(tmp_path: Path) -> None:
    def change(_: Doc, r: Doc) -> None:
        del r["paths"]["/notes"]["post"]
        schema = r["paths"]["/notes"]["get"]["responses"]["200"]["content"]["application/json"]
        del schema["schema"]["properties"]["text"]

    report = compare(tmp_path, change)
    assert {c.what for c in report.breaking} == {
        "operation removed",
        "property removed (clients read it)",
    }


def test_rest_a_new_optional_body_field_is_compatible_a_required_one_is_not(
    tmp_path: Path,
) -> None:
    def optional(_: Doc, r: Doc) -> None:
        body = r["paths"]["/notes"]["post"]["requestBody"]["content"]["application/json"]
        body["schema"]["properties"]["tag"] = TEXT

    def required(a: Doc, r: Doc) -> None:
        optional(a, r)
        r["paths"]["/notes"]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "required"
        ].append("tag")

    assert levels(compare(tmp_path / "a", optional)) == {COMPATIBLE}
    assert levels(compare(tmp_path / "b", required)) == {BREAKING}


def test_specs_are_read_from_a_git_ref(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo / "spec", ASYNC, REST)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    changed = copy.deepcopy(ASYNC)
    del changed["operations"]["created"]
    (repo / "spec" / "asyncapi.yaml").write_text(yaml.safe_dump(changed), encoding="utf-8")
    old = checkout_specs("HEAD", tmp_path / "at-head", repo=repo)
    report = compare_dirs(old, repo / "spec")
    assert [c.where for c in report.breaking] == ["note:new"]
    assert not report.ok


# ---- `./dev check`: the real specs against the last released contract ------------------------

GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True)
    return done.stdout.decode().strip()


def released_check(repo: Path) -> subprocess.CompletedProcess[str]:
    """The check session's command (`python -m conformance.compat`), on another repository."""
    return subprocess.run(
        [sys.executable, "-m", "conformance.compat", "--repo", str(repo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def set_version(repo: Path, version: str) -> None:
    """Both specs' `info.version` (the first `  version:` line of each, as both are written)."""
    for name in ("asyncapi.yaml", "openapi.yaml"):
        path = repo / "spec" / name
        text = path.read_text(encoding="utf-8")
        changed = re.sub(r"(?m)^(  version: ).*$", rf"\g<1>{version}", text, count=1)
        assert changed != text or f"  version: {version}\n" in text
        path.write_text(changed, encoding="utf-8")


def remove_message_deleted(repo: Path) -> None:
    """A breaking change: the `message:deleted` event clients listen to disappears."""
    path = repo / "spec" / "asyncapi.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc["operations"].pop("messageDeleted")["action"] == "send"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def spec_repo(tmp_path: Path) -> Path:
    """A new repository holding this project's spec/ at 1.0.0, in one commit."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "spec", repo / "spec")
    git(repo, "init", "-q")
    set_version(repo, "1.0.0")
    commit_all(repo, "contract 1.0.0")
    return repo


def test_a_fresh_clone_fails_a_break_of_the_tagged_release_and_passes_it_as_a_new_major(
    tmp_path: Path,
) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, capture_output=True)
    version = yaml.safe_load((clone / "spec" / "asyncapi.yaml").read_text())["info"]["version"]
    git(clone, "tag", "-f", "-a", f"contract-v{version}", "-m", "released")
    assert released_check(clone).returncode == 0  # nothing changed since the release

    remove_message_deleted(clone)
    commit_all(clone, "drop message:deleted")
    broken = released_check(clone)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"contract-v{version}" in broken.stdout
    assert "message:deleted" in broken.stdout and "FAIL" in broken.stdout

    major = int(version.split(".")[0]) + 1
    set_version(clone, f"{major}.0.0")
    commit_all(clone, "contract: a new major version")
    bumped = released_check(clone)
    assert bumped.returncode == 0, bumped.stdout + bumped.stderr


def test_without_a_tag_the_previous_version_is_the_released_one(tmp_path: Path) -> None:
    repo = spec_repo(tmp_path)
    first = git(repo, "rev-parse", "--short=12", "HEAD")
    set_version(repo, "1.1.0")
    commit_all(repo, "contract 1.1.0")
    remove_message_deleted(repo)
    commit_all(repo, "drop message:deleted")

    broken = released_check(repo)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"spec/ at {first} " in broken.stdout  # the last commit of 1.0.0

    set_version(repo, "2.0.0")
    bumped = released_check(repo)  # the bump not even committed yet: the working tree counts
    assert bumped.returncode == 0, bumped.stdout + bumped.stderr


def test_a_tag_wins_over_the_previous_version_and_the_highest_tag_counts(tmp_path: Path) -> None:
    repo = spec_repo(tmp_path)
    git(repo, "tag", "contract-v1.0.0")
    set_version(repo, "2.0.0")
    commit_all(repo, "contract 2.0.0")
    git(repo, "tag", "contract-v2.0.0")
    remove_message_deleted(repo)  # 2.0.0 is released: breaking it needs 3.0.0
    broken = released_check(repo)
    assert broken.returncode == 1 and "contract-v2.0.0" in broken.stdout, broken.stdout


def test_a_contract_never_released_has_nothing_to_compare(tmp_path: Path) -> None:
    repo = spec_repo(tmp_path)
    remove_message_deleted(repo)
    done = released_check(repo)
    assert done.returncode == 0 and "no released contract yet" in done.stdout, done.stdout


def test_a_shallow_clone_is_refused_not_passed(tmp_path: Path) -> None:
    repo = spec_repo(tmp_path)
    set_version(repo, "1.1.0")
    commit_all(repo, "contract 1.1.0")
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)],
        check=True,
        capture_output=True,
    )
    done = released_check(shallow)
    assert done.returncode == 2 and "shallow" in done.stderr, done.stderr


def test_dev_check_runs_the_compat_check_against_the_released_contract() -> None:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    commands = [
        [a.value for a in call.args if isinstance(a, ast.Constant)]
        for call in ast.walk(check)
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "run"
    ]
    assert ["python", "-m", "conformance.compat"] in commands


LIMIT = {"counter": "notes", "limit": 10, "windowSeconds": 10, "per": ["user"]}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, LIMIT, BREAKING),  # a new limit may refuse what old clients send
        (LIMIT, None, COMPATIBLE),
        (LIMIT, {**LIMIT, "limit": 20}, COMPATIBLE),  # looser
        (LIMIT, {**LIMIT, "limit": 5}, BREAKING),  # tighter
        (LIMIT, {**LIMIT, "windowSeconds": 20}, BREAKING),  # the same count over longer
        (LIMIT, {**LIMIT, "per": ["user", "channelId"]}, COMPATIBLE),  # a finer key
        (LIMIT, {**LIMIT, "per": []}, BREAKING),
    ],
)
def test_a_rate_limit_is_a_bound_on_what_clients_send(
    tmp_path: Path, old: Doc | None, new: Doc | None, expected: str
) -> None:
    base = copy.deepcopy(ASYNC)
    if old is not None:
        base["operations"]["create"]["x-rate-limit"] = old
    changed = copy.deepcopy(base)
    changed["operations"]["create"].pop("x-rate-limit", None)
    if new is not None:
        changed["operations"]["create"]["x-rate-limit"] = new
    report = compare_dirs(
        write(tmp_path / "old", base, REST), write(tmp_path / "new", changed, REST)
    )
    assert levels(report) == {expected}, report.text()
