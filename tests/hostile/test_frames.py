"""Bad frames on a WebSocket: answered `error:validation`, or closed with a close frame and
the socket's cleanup run; memory and log lines bounded."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from tests.hostile.process import ServerProcess, create_public_server, join_server, signup
from tests.hostile.wire import close_of, connected_socket, next_event, next_packet, open_websocket

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

_names = (f"h{n}" for n in itertools.count())


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("hello", 1008),
        ("", 1008),
        ("4", 1008),
        ("47", 1008),
        ('44{"message":"x"}', 1008),
        ("42", 1008),
        ("42{}", 1008),
        ("42[1]", 1008),
        ('42/admin,["server:join",{"serverId":1}]', 1008),
        ('4511-["message:create",{"_placeholder":true,"num":0}]', 1003),
        ('46["x"]', 1003),
        (b"\x04binary", 1003),
    ],
    ids=repr,
)
async def test_a_frame_that_names_no_event_closes_the_socket_and_the_user_goes_offline(
    server: ServerProcess, frame: str | bytes, code: int
) -> None:
    owner, guest = signup(server.url, next(_names)), signup(server.url, next(_names))
    server_id = create_public_server(server.url, owner)
    join_server(server.url, guest, server_id)
    watcher = await connected_socket(server, owner)
    await watcher.send(f'42["server:join",{{"serverId":{server_id}}}]')
    await next_event(watcher, "presence:update")
    bad = await connected_socket(server, guest)
    online = await next_event(watcher, "presence:update")
    assert len(online["onlineUserIds"]) == 2

    started = asyncio.get_running_loop().time()
    await bad.send(frame)
    assert await close_of(bad) == code  # a close frame, not a dropped connection
    # The cleanup ran: the guest is offline for the watcher at once (not after 45 s).
    offline = await next_event(watcher, "presence:update", timeout=5)
    elapsed = asyncio.get_running_loop().time() - started
    assert len(offline["onlineUserIds"]) == 1
    print(f"FIGURE frame={frame!r:.40}: closed {code} and offline in {elapsed * 1000:.0f} ms")
    await watcher.close()


@pytest.mark.parametrize(
    "payload",
    [
        _deep(1000),  # under 64 KB; RecursionError in validation before
        '{"channelId": 1, "content": ',  # does not decode
        '{"channelId": 1, "content": "\\ud800"',  # broken escape, unterminated
    ],
    ids=["nested 1000 deep", "truncated", "broken escape"],
)
async def test_an_event_whose_payload_does_not_decode_gets_error_validation_and_stays_up(
    server: ServerProcess, payload: str
) -> None:
    ws = await connected_socket(server, signup(server.url, next(_names)))
    await ws.send(f'427["message:create",{payload}]')
    error = json.loads((await next_packet(ws))[2:])
    ack = await next_packet(ws)
    assert error[0] == "error:validation"
    assert error[1]["code"] == "E_VALIDATION" and error[1]["event"] == "message:create"
    assert ack.startswith("437[") and json.loads(ack[3:])[0]["code"] == "E_VALIDATION"
    # Still up: the next event is answered.
    await ws.send('428["server:join",{"serverId":2147483647}]')
    while not (packet := await next_packet(ws)).startswith("438"):
        pass
    assert json.loads(packet[3:])[0]["ok"] is False
    await ws.close()


async def test_a_binary_event_gets_error_validation_and_its_attachments_are_dropped(
    server: ServerProcess,
) -> None:
    ws = await connected_socket(server, signup(server.url, next(_names)))
    await ws.send('451-7["message:create",{"_placeholder":true,"num":0}]')
    await ws.send(b"\x00" * 60_000)
    error = json.loads((await next_packet(ws))[2:])
    assert error[0] == "error:validation" and error[1]["event"] == "message:create"
    assert json.loads((await next_packet(ws))[3:])[0]["code"] == "E_VALIDATION"
    await ws.send('428["server:join",{"serverId":2147483647}]')
    while not (await next_packet(ws)).startswith("438"):
        pass
    await ws.close()


async def test_two_interleaved_binary_events_are_both_answered_and_the_socket_stays_up(
    server: ServerProcess,
) -> None:
    ws = await connected_socket(server, signup(server.url, next(_names)))
    await ws.send('451-1["typing:start",{"_placeholder":true,"num":0}]')
    await ws.send('451-2["typing:stop",{"_placeholder":true,"num":0}]')
    await ws.send(b"\x01")
    await ws.send(b"\x02")
    acks: set[str] = set()
    while len(acks) < 2:
        packet = await next_packet(ws)
        if packet.startswith("43"):
            acks.add(packet[2])
            assert json.loads(packet[3:])[0]["code"] == "E_VALIDATION"
    await ws.send('423["server:join",{"serverId":2147483647}]')
    while not (await next_packet(ws)).startswith("433"):
        pass
    await ws.close()


async def test_an_unauthenticated_socket_is_closed_after_its_refused_handshake(
    server: ServerProcess,
) -> None:
    ws = await open_websocket(server)
    await ws.send("40")
    refusal = await next_packet(ws)
    assert refusal.startswith("44") and "E_UNAUTHORIZED" in refusal
    assert await close_of(ws, timeout=3) == 1008


async def test_binary_attachments_are_refused_at_once_so_memory_stays_flat(
    server: ServerProcess,
) -> None:
    ws = await connected_socket(server, signup(server.url, next(_names)))
    before = server.rss_kib()
    await ws.send('45999999-["message:create",{"_placeholder":true,"num":0}]')
    chunk = b"\x00" * 60_000
    sent = 0
    try:
        for _ in range(100):  # 6 MB of attachments, if the server took them
            await ws.send(chunk)
            sent += len(chunk)
    except Exception:
        pass
    code = await close_of(ws)
    growth = server.rss_kib() - before
    print(f"FIGURE binary: sent {sent} bytes before the close ({code}), RSS +{growth} KiB")
    assert code == 1003
    assert growth < 2048


async def test_two_hundred_bad_frames_log_one_warning_and_no_traceback(
    server: ServerProcess,
) -> None:
    ws = await connected_socket(server, signup(server.url, next(_names)))
    before = len(server.log_lines())
    for n in range(200):
        await ws.send(f'42{n}["typing:start",{_deep(100)}]')
    for _ in range(400):  # 200 errors and 200 acks
        await next_packet(ws)
    await ws.close()
    await asyncio.sleep(0.5)
    lines = server.log_lines()[before:]
    ours = [line for line in lines if "zizany.transport" in line]
    print(f"FIGURE 200 bad frames: {len(lines)} log lines, {len(ours)} from the guard")
    assert not [line for line in lines if "Traceback" in line]
    assert len(ours) == 1 and "WARNING" in ours[0]
    assert len(lines) <= 5  # the guard's warning and uvicorn's connection lines
