"""The TypeScript declarations for socket.io-client: the example client compiles with
`tsc --strict`, copies of it with a wrong payload type do not, every example payload of
the spec type-checks against its declared type, and the compiled example runs against a
live server (it logs in, connects, joins, sends, and the message is stored)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from codegen.loader import deref, load_yaml
from service.app import create_app
from tests.docs.conftest import contract
from tests.support.deployment import make_settings
from tests.support.live import serve_built
from tests.support.node import need_node
from tests.support.paths import NODE_MODULES, ROOT, SPEC
from tests.support.typescript import compiled_example, run_example

__all__ = ["compiled_example"]

EXAMPLE = ROOT / "clients" / "typescript"
DTS = ROOT / "generated" / "typescript" / "zizany-events.d.ts"
TSC = NODE_MODULES / "typescript" / "bin" / "tsc"

# (what the example says, a wrong version of it): each copy must fail to compile.
WRONG = {
    "client_payload_field_type": (
        "const draft: MessageCreate = { channelId, content };",
        "const draft: MessageCreate = { channelId: String(channelId), content };",
    ),
    "client_payload_missing_field": (
        'socket.emitWithAck("server:join", { serverId })',
        'socket.emitWithAck("server:join", {})',
    ),
    "server_payload_type": (
        'socket.on("message:new", (message: Message) =>',
        'socket.on("message:new", (message: TypingUpdate) =>',
    ),
    "server_payload_field": (
        "retry in ${error.retryAfterMs} ms",
        "retry in ${error.retryAfter} ms",
    ),
    "unknown_event": (
        'socket.emit("typing:start", { channelId }',
        'socket.emit("typing:begin", { channelId }',
    ),
    "ack_reply_type": (
        "return created.message;",
        "return created.channelId;",
    ),
}


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(TSC), "-p", str(project), "--strict", "--pretty", "false"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def workspace(tmp_path: Path) -> Path:
    """The example's layout under tmp_path (its folder, the declarations, node_modules)."""
    shutil.copytree(EXAMPLE, tmp_path / "clients" / "typescript")
    (tmp_path / "generated" / "typescript").mkdir(parents=True)
    shutil.copyfile(DTS, tmp_path / "generated" / "typescript" / DTS.name)
    (tmp_path / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    return tmp_path / "clients" / "typescript"


def use_files(project: Path, files: list[str]) -> None:
    config = json.loads((project / "tsconfig.json").read_text(encoding="utf-8"))
    config["files"] = files
    (project / "tsconfig.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


@pytest.mark.node
def test_example_client_compiles_with_tsc_strict() -> None:
    need_node("typescript", "socket.io-client")
    done = tsc(EXAMPLE)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.node
def test_copies_of_the_example_with_a_wrong_payload_type_fail_to_compile(tmp_path: Path) -> None:
    need_node("typescript", "socket.io-client")
    project = workspace(tmp_path)
    example = (project / "example.ts").read_text(encoding="utf-8")
    for name, (right, wrong) in WRONG.items():
        assert example.count(right) == 1, f"the example no longer says {right!r}"
        (project / f"wrong_{name}.ts").write_text(example.replace(right, wrong), encoding="utf-8")
    use_files(project, ["example.ts", *(f"wrong_{name}.ts" for name in WRONG)])
    done = tsc(project)
    assert done.returncode != 0
    failing = set(re.findall(r"^(\S+?\.ts)\(\d+,\d+\): error", done.stdout, re.M))
    assert {Path(f).name for f in failing} == {f"wrong_{name}.ts" for name in WRONG}, done.stdout


def example_checks() -> str:
    """TypeScript that assigns every example payload of the spec to its declared type."""
    spec = load_yaml(SPEC / "asyncapi.yaml")
    lines = ['import type * as Z from "../../generated/typescript/zizany-events.js";', ""]
    count = 0
    for key, message in spec["components"]["messages"].items():
        payload_type = message["payload"]["$ref"].rsplit("/", 1)[-1]
        for example in deref(message.get("examples", []), SPEC / "asyncapi.yaml"):
            count += 1
            value = json.dumps(example["payload"])
            lines.append(f"export const {key}{count}: Z.{payload_type} = {value};")
    assert count >= len(contract().operations), "the spec lost its examples"
    events = {op.event: op for op in contract().operations}
    lines += [
        f'export const version: Z.ContractVersion = "{contract().version}";',
        "type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;",
    ]
    for n, (event, op) in enumerate(events.items()):
        kind = "ServerPayload" if op.action == "send" else "ClientPayload"
        same = f'Same<Z.{kind}<"{event}">, Z.{op.message.model}>'
        lines.append(f"export const payload{n}: {same} = true;")
        if op.reply is not None:
            lines.append(
                f'export const ack{n}: Same<Z.AckOf<"{event}">, Z.{op.reply.model}> = true;'
            )
    return "\n".join(lines) + "\n"


@pytest.mark.node
def test_every_example_payload_of_the_spec_type_checks(tmp_path: Path) -> None:
    need_node("typescript", "socket.io-client")
    project = workspace(tmp_path)
    (project / "spec_examples.ts").write_text(example_checks(), encoding="utf-8")
    use_files(project, ["spec_examples.ts"])
    done = tsc(project)
    assert done.returncode == 0, done.stdout + done.stderr


def test_declarations_map_every_event_of_the_spec() -> None:
    text = DTS.read_text(encoding="utf-8")
    server = text.split("export interface ServerToClientEvents {", 1)[1].split("\n}\n", 1)[0]
    client = text.split("export interface ClientToServerEvents {", 1)[1].split("\n}\n", 1)[0]
    spec = contract()
    server_events = re.findall(r'^  "([^"]+)": \(payload: (\w+)\) => void;$', server, re.M)
    assert server_events == [(op.event, op.message.model) for op in spec.send]
    client_events = re.findall(
        r'^  "([^"]+)": \(payload: (\w+), ack: \(reply: (\w+)\) => void\) => void;$', client, re.M
    )
    expected = []
    for op in spec.receive:
        assert op.reply is not None
        expected.append((op.event, op.message.model, op.reply.model))
    assert client_events == expected
    assert text.startswith("// Generated by `python -m codegen` from spec/asyncapi.yaml")


@pytest.mark.node
def test_the_compiled_example_chats_with_a_live_server(
    tmp_path: Path, compiled_example: Path
) -> None:
    account = {"username": "tess", "email": "tess@example.com", "password": "typescript!"}
    built = serve_built(lambda _: create_app(make_settings(tmp_path)))
    with built as live, httpx.Client(base_url=live.url, timeout=10) as http:
        assert http.post("/api/auth/signup", json=account).status_code == 201
        server = http.post("/api/servers", json={"name": "Types"}).json()["server"]
        channels = http.get(f"/api/servers/{server['id']}/channels").json()["channels"]
        channel_id = channels[0]["id"]
        done = run_example(
            compiled_example,
            live.url,
            account["email"],
            account["password"],
            server["id"],
            channel_id,
        )
        history = http.get(f"/api/channels/{channel_id}/messages").json()["messages"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(m["content"], m["user"]["username"]) for m in history] == [
        ("Hello from TypeScript", "tess")
    ]
    assert f"stored as message {history[0]['id']} at {history[0]['created_at']}" in done.stdout


@pytest.mark.node
def test_the_compiled_example_fails_loudly_with_a_wrong_password(
    tmp_path: Path, compiled_example: Path
) -> None:
    with serve_built(lambda _: create_app(make_settings(tmp_path))) as live:
        done = run_example(compiled_example, live.url, "nobody@example.com", "wrong-pass", 1, 1)
    assert done.returncode != 0
    assert "login failed: HTTP 401" in done.stderr
