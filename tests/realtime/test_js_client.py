"""The official JavaScript client against the live server: refusal, join, message:new shape."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT
from tests.support.seeded import World
from tests.support.services import need
from tests.support.spec import seed_events

pytestmark = [pytest.mark.anyio, pytest.mark.node]


async def read_json_line(stream: asyncio.StreamReader) -> dict[str, Any]:
    line = await asyncio.wait_for(stream.readline(), 20)
    assert line, "the JavaScript client ended early"
    return dict(json.loads(line))


async def test_official_js_client_is_refused_then_joins_and_receives_message_new(
    world: World,
) -> None:
    need(shutil.which("node") is not None, "node is not installed")
    need((ROOT / "node_modules" / "socket.io-client").is_dir(), "run `npm ci` first")
    sara, omar = await world.user("Sara"), await world.user("Omar")
    server_id, channel_id = await world.server(sara, omar)
    node = await asyncio.create_subprocess_exec(
        "node",
        str(Path(__file__).with_name("js_client.mjs")),
        world.live.url,
        f"connect.sid={sara.cookie}",
        str(server_id),
        str(channel_id),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert node.stdout is not None
    try:
        assert await read_json_line(node.stdout) == {
            "event": "connect_error",
            "message": "E_UNAUTHORIZED",
        }
        ready = await read_json_line(node.stdout)
        assert ready == {
            "event": "ready",
            "acks": [{"ok": True, "serverId": server_id}, {"ok": True, "channelId": channel_id}],
        }
        sender = await world.connect(omar)
        ack = await sender.call("message:create", {"channelId": channel_id, "content": "Hello"})
        received = await read_json_line(node.stdout)
        assert received["event"] == "message:new"
        seed = next(e for e in seed_events() if e.name == "message:new").example
        assert set(received["payload"]) == set(seed)
        assert set(received["payload"]["user"]) == set(seed["user"])
        assert received["payload"] == ack["message"]
        assert await asyncio.wait_for(node.wait(), 20) == 0
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
