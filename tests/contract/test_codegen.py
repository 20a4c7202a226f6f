"""The generator: deterministic, and `--check` catches a spec changed without regenerating."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from codegen.asyncapi import read_contract
from codegen.build import ROOT, build, stale
from generated.realtime import emitter, router
from generated.realtime.events import RECEIVE_EVENTS, SEND_EVENTS, Event
from generated.realtime.rooms import channel_room, parse_channel_room, server_room
from tests.support.spec import ASYNCAPI, message_schemas


def copy_project(tmp_path: Path) -> Path:
    for folder in ("spec", "generated"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def run_codegen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def test_generation_is_byte_identical_on_rerun() -> None:
    first = build()
    second = build()
    assert first == second
    assert stale(first) == [], "generated/ is not current: run `python -m codegen`"


def test_generated_files_name_their_source_and_its_sha256() -> None:
    import hashlib

    for path, text in build().items():
        spec = (
            "common.yaml"
            if "common" in path.parts
            else "openapi.yaml"
            if "rest" in path.parts
            else "asyncapi.yaml"
        )
        digest = hashlib.sha256((ROOT / "spec" / spec).read_bytes()).hexdigest()
        first_line = text.splitlines()[0]
        assert f"spec/{spec} (sha256 {digest})" in first_line, path
        assert "python -m codegen" in text.splitlines()[1], path


def test_check_passes_on_this_checkout() -> None:
    done = run_codegen("--check")
    assert done.returncode == 0, done.stderr


def test_check_fails_naming_files_when_the_spec_changed_without_regeneration(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path)
    spec = project / "spec" / "asyncapi.yaml"
    spec.write_text(
        spec.read_text().replace(
            "title: ServerJoined\n", "title: ServerJoined\n      description: x\n"
        )
    )
    done = run_codegen("--check", "--root", str(project))
    assert done.returncode == 1
    assert "generated/realtime/schemas.py" in done.stderr or "generated/realtime/models.py" in (
        done.stderr
    )
    assert "generated/realtime/router.py" in done.stderr  # the header hash changed everywhere


def test_check_fails_on_a_hand_edited_generated_file(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    target = project / "generated" / "realtime" / "emitter.py"
    target.write_text(target.read_text() + "\n# hand edit\n")
    done = run_codegen("--check", "--root", str(project))
    assert done.returncode == 1
    assert "generated/realtime/emitter.py" in done.stderr


def test_every_operation_of_the_spec_is_in_the_router_or_the_emitter() -> None:
    contract = read_contract(ASYNCAPI)
    schemas = message_schemas()
    assert {op.event for op in contract.receive} == set(RECEIVE_EVENTS)
    assert {op.event for op in contract.send} == set(SEND_EVENTS)
    assert {str(e) for e in Event} == set(schemas)
    for op in contract.receive:
        assert getattr(router.SocketHandlers, op.method).__isabstractmethod__
    for op in contract.send:
        assert callable(getattr(emitter.Emitter, op.method)), op.method


def test_emitter_targets_follow_the_operation_channel() -> None:
    import typing

    hints = typing.get_type_hints(emitter.Emitter.message_new)
    assert hints["to"].__name__ == "ChannelRoom"
    assert typing.get_type_hints(emitter.Emitter.server_joined)["to"].__name__ == "SocketId"
    assert typing.get_type_hints(emitter.Emitter.presence_update)["to"].__name__ == "ServerRoom"
    assert "skip_sid" in typing.get_type_hints(emitter.Emitter.typing_update)


def test_room_helpers_follow_the_address_templates() -> None:
    assert server_room(7) == "server:7"
    assert channel_room(12) == "channel:12"
    assert parse_channel_room("channel:12") == 12
    assert parse_channel_room("server:12") is None


def test_shared_schemas_are_one_class_in_rest_and_realtime() -> None:
    from generated.common import models as common
    from generated.realtime import models as realtime
    from generated.rest import models as rest

    for name in ("Channel", "Message", "UserSummary"):
        assert getattr(rest, name) is getattr(common, name), name
        assert getattr(realtime, name) is getattr(common, name), name
    assert realtime.ServerInfo is common.ServerInfo
    for module in ("rest/models.py", "realtime/models.py"):
        assert "class Message(" not in (ROOT / "generated" / module).read_text()


def test_a_spec_that_redefines_a_shared_schema_under_its_name_fails(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    spec = project / "spec" / "openapi.yaml"
    text = spec.read_text()
    marker = "  schemas:\n"
    assert marker in text
    own = (
        "  schemas:\n    UserSummary:\n      title: UserSummary\n      type: object\n"
        "      properties:\n        nick:\n          type: string\n"
    )
    spec.write_text(text.replace(marker, own, 1))
    done = run_codegen("--check", "--root", str(project))
    assert done.returncode != 0
    assert "'UserSummary' differs from the shared one" in done.stderr


def test_the_client_s_room_commands_and_catch_up_come_from_the_spec() -> None:
    from generated.realtime.client import ZizanyClient

    commands = ZizanyClient.ROOM_COMMANDS
    assert {event for event, c in commands.items() if c.enters} == {"server:join", "channel:join"}
    assert commands["channel:leave"].room == "channel:{channelId}"
    catch_up = ZizanyClient.CATCH_UP["message:new"]
    assert (catch_up.path, catch_up.field, catch_up.key) == (
        "/api/channels/{channelId}/messages",
        "channel_id",
        "id",
    )
    assert catch_up.page_size == 100  # the largest `limit` openapi.yaml allows


def test_a_catch_up_naming_no_rest_operation_fails_generation(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    spec = project / "spec" / "asyncapi.yaml"
    text = spec.read_text()
    assert "operationId: list_messages\n" in text
    spec.write_text(text.replace("operationId: list_messages\n", "operationId: list_nothing\n"))
    done = run_codegen("--check", "--root", str(project))
    assert done.returncode != 0
    assert "no GET operation 'list_nothing' in openapi.yaml" in done.stderr
