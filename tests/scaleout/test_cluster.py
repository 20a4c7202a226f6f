"""Two real Zizany processes on one PostgreSQL and one Redis, with real clients on both.

Process A and process B each serve REST and Socket.IO on their own port; what happens on
one must reach the sockets of the other: broadcasts, typing, member events, presence,
revocation, logout, and the shared rate limits.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clients import eventually, expect, join, quiet
from tests.support.cluster import FAST_PRESENCE, Cluster, Node, People, Sockets, cluster, cookie
from tests.support.world import server_with

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres]

MESSAGE_LIMIT = 12
TYPING_LIMIT = 6


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Processes A and B (short presence leases, 1 s typing timeout)."""
    with cluster(
        tmp_path_factory.mktemp("pair"),
        **FAST_PRESENCE,
        ZIZANY_TYPING_TIMEOUT_SECONDS="1",
        ZIZANY_MESSAGE_RATE_LIMIT=str(MESSAGE_LIMIT),
        ZIZANY_MESSAGE_RATE_WINDOW_SECONDS="60",
        ZIZANY_RATE_LIMITS=f'{{"typing": {{"limit": {TYPING_LIMIT}, "window_seconds": 60}}}}',
    ) as made:
        made.start("A", "B")
        yield made


async def test_a_message_sent_on_one_process_reaches_sockets_on_the_other(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner, member = await people.person("owner"), await people.person("member")
    server_id, channel_id = await server_with(owner, member)
    on_a = await sockets.joined(a, owner, server_id, channel_id)
    on_b = await sockets.joined(b, member, server_id, channel_id)

    ack = await on_b.call("message:create", {"channelId": channel_id, "content": " from B "})
    assert ack["ok"] is True
    (seen_on_a,) = await on_a.wait_for("message:new")
    assert seen_on_a == ack["message"] and seen_on_a["content"] == "from B"
    assert await on_b.wait_for("message:new") == [ack["message"]]

    # A REST post on A reaches B's socket once (the emit is validated and sent once).
    posted = expect(
        await people.on(owner, a).post(
            f"/api/channels/{channel_id}/messages", json={"content": "via REST on A"}
        ),
        201,
    )["message"]
    assert (await on_b.wait_for("message:new", count=2))[1] == posted
    assert await quiet(on_b, "message:new", 0.3) == [ack["message"], posted]


async def test_typing_crosses_processes_and_each_change_is_announced_once(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    typist, watcher = await people.person("typist"), await people.person("watcher")
    server_id, channel_id = await server_with(typist, watcher)
    typist_a = await sockets.connect(a, cookie(typist))
    typist_b = await sockets.connect(b, cookie(typist))
    watcher_a = await sockets.connect(a, cookie(watcher))
    watcher_b = await sockets.connect(b, cookie(watcher))
    for client in (typist_a, typist_b, watcher_a, watcher_b):
        await join(client, server_id, channel_id)
    typing = {"channelId": channel_id}

    assert (await typist_a.call("typing:start", typing))["ok"] is True
    for watcher_socket in (watcher_a, watcher_b):
        (update,) = await watcher_socket.wait_for("typing:update")
        assert update == {
            "channelId": channel_id,
            "userId": typist.id,
            "username": typist.username,
            "isTyping": True,
        }
    # The socket that caused it is excluded; the typist's socket on the other process is not.
    assert await typist_b.wait_for("typing:update") == [update]
    assert typist_a.named("typing:update") == []
    # The typist's socket on B starting too, then the one on A stopping: no change.
    await typist_b.call("typing:start", typing)
    await typist_a.call("typing:stop", typing)
    assert await quiet(watcher_b, "typing:update", 0.3) == [update]

    # The start on B expires after 1 s: announced once (by B), seen on both processes.
    for client, count in ((watcher_a, 2), (watcher_b, 2), (typist_a, 1)):
        updates = await client.wait_for("typing:update", count=count, timeout=5)
        assert updates[-1] == {**update, "isTyping": False}
    assert await quiet(watcher_a, "typing:update", 1.5) == [update, {**update, "isTyping": False}]
    assert typist_b.named("typing:update") == [update]


async def test_member_events_and_presence_cross_processes(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner, newcomer = await people.person("owner"), await people.person("newcomer")
    server_id, _ = await server_with(owner)
    watcher = await sockets.joined(a, owner, server_id)
    await watcher.wait_for("presence:update")

    code = expect(await people.on(owner, a).post(f"/api/servers/{server_id}/invites"), 201)["code"]
    newcomer_on_b = people.on(newcomer, b)
    expect(await newcomer_on_b.post(f"/api/servers/{server_id}/join", json={"code": code}), 201)
    (joined,) = await watcher.wait_for("server:member_joined")
    assert joined == {"serverId": server_id, "userId": newcomer.id, "username": newcomer.username}

    # The newcomer's socket on B brings them online for A's socket.
    await sockets.connect(b, cookie(newcomer))
    updates = await watcher.wait_for("presence:update", count=3)
    assert updates[-1] == {"serverId": server_id, "onlineUserIds": sorted([owner.id, newcomer.id])}

    expect(await newcomer_on_b.delete(f"/api/servers/{server_id}/leave"), 204)
    (left,) = await watcher.wait_for("server:member_left")
    assert left["userId"] == newcomer.id
    updates = await watcher.wait_for("presence:update", count=4)
    assert updates[-1]["onlineUserIds"] == [owner.id]


async def test_presence_counts_the_sockets_of_both_processes(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner, member = await people.person("owner"), await people.person("member")
    server_id, _ = await server_with(owner, member)
    watcher = await sockets.joined(a, owner, server_id)
    await watcher.wait_for("presence:update")

    member_a = await sockets.connect(a, cookie(member))
    updates = await watcher.wait_for("presence:update", count=2)
    assert updates[-1]["onlineUserIds"] == sorted([owner.id, member.id])
    member_b = await sockets.connect(b, cookie(member))
    # Closing the tab on A changes nothing: the socket on B keeps the member online.
    await member_a.close()
    assert len(await quiet(watcher, "presence:update", 0.5)) == 2
    for node in (a, b):
        members = expect(await people.on(owner, node).get(f"/api/servers/{server_id}/members"), 200)
        online = {m["user"]["id"]: m["online"] for m in members["members"]}
        assert online[member.id] is True
        server = expect(await people.on(owner, node).get(f"/api/servers/{server_id}"), 200)
        assert server["server"]["online_count"] == 2

    await member_b.close()
    updates = await watcher.wait_for("presence:update", count=3)
    assert updates[-1]["onlineUserIds"] == [owner.id]


async def test_a_kick_on_one_process_takes_the_sockets_on_the_other_out_of_the_rooms(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner, member = await people.person("owner"), await people.person("member")
    server_id, channel_id = await server_with(owner, member)
    owner_a = await sockets.joined(a, owner, server_id, channel_id)
    member_b = await sockets.joined(b, member, server_id, channel_id)
    await member_b.call("typing:start", {"channelId": channel_id})
    await owner_a.wait_for("typing:update")

    expect(await people.on(owner, a).delete(f"/api/servers/{server_id}/members/{member.id}"), 204)

    (left,) = await member_b.wait_for("server:member_left")
    assert left["userId"] == member.id
    # Leaving the channel room ended the member's typing (announced by B, seen on A).
    typing = await owner_a.wait_for("typing:update", count=2)
    assert typing[-1]["isTyping"] is False
    await owner_a.call("message:create", {"channelId": channel_id, "content": "after the kick"})
    await owner_a.call("typing:start", {"channelId": channel_id})
    await owner_a.wait_for("message:new")
    assert await quiet(member_b, "message:new", 0.5) == []
    assert member_b.named("typing:update") == []
    ack = await member_b.call("typing:start", {"channelId": channel_id})
    assert ack["ok"] is False and ack["code"] == "E_FORBIDDEN"


async def test_a_leave_on_one_process_takes_the_sockets_on_the_other_out_of_the_rooms(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner, member = await people.person("owner"), await people.person("member")
    server_id, channel_id = await server_with(owner, member)
    owner_b = await sockets.joined(b, owner, server_id, channel_id)
    member_b = await sockets.joined(b, member, server_id, channel_id)

    expect(await people.on(member, a).delete(f"/api/servers/{server_id}/leave"), 204)
    await member_b.wait_for("server:member_left")
    await owner_b.call("message:create", {"channelId": channel_id, "content": "after leaving"})
    await owner_b.wait_for("message:new")
    assert await quiet(member_b, "message:new", 0.5) == []
    assert channel_id not in [m.get("channel_id") for m in member_b.named("message:new")]


async def test_logout_on_one_process_disconnects_that_sessions_sockets_on_the_other(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    user = await people.person("user")
    other_session = await people.login(user, b)
    first_b = await sockets.connect(b, cookie(user))
    first_a = await sockets.connect(a, cookie(user))
    second_b = await sockets.connect(b, str(other_session.cookies["connect.sid"]))

    expect(await people.on(user, a).post("/api/auth/logout"), 204)

    async def gone() -> bool:
        return not first_b.sio.connected and not first_a.sio.connected

    await eventually(gone, timeout=5)
    assert second_b.sio.connected
    assert (await second_b.call("server:leave", {"serverId": 1}))["ok"] is True


async def test_the_message_rate_limit_counts_both_processes(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner = await people.person("owner")
    _, channel_id = await server_with(owner)
    on = [await sockets.connect(node, cookie(owner)) for node in (a, b)]
    for client in on:
        await client.call("channel:join", {"channelId": channel_id})
    for number in range(MESSAGE_LIMIT):
        ack = await on[number % 2].call(
            "message:create", {"channelId": channel_id, "content": f"#{number}"}
        )
        assert ack["ok"] is True, ack
    for client in on:
        ack = await client.call("message:create", {"channelId": channel_id, "content": "more"})
        assert ack["ok"] is False and ack["code"] == "E_RATE_LIMITED"
        assert 0 < ack["retryAfterMs"] <= 60_000
    response = await people.on(owner, a).post(
        f"/api/channels/{channel_id}/messages", json={"content": "REST too"}
    )
    expect(response, 429, "E_RATE_LIMITED")


async def test_the_typing_limit_of_a_user_and_channel_counts_both_processes(
    a: Node, b: Node, people: People, sockets: Sockets
) -> None:
    owner = await people.person("owner")
    server_id, channel_id = await server_with(owner)
    other_channel = expect(
        await people.on(owner, a).post(
            f"/api/servers/{server_id}/channels", json={"name": "other"}
        ),
        201,
    )["channel"]["id"]
    on = [await sockets.connect(node, cookie(owner)) for node in (a, b)]
    for client in on:
        for channel in (channel_id, other_channel):
            assert (await client.call("channel:join", {"channelId": channel}))["ok"] is True
    for number in range(TYPING_LIMIT):
        event = "typing:start" if number % 2 == 0 else "typing:stop"
        ack = await on[number % 2].call(event, {"channelId": channel_id})
        assert ack["ok"] is True, ack
    for client in on:
        ack = await client.call("typing:start", {"channelId": channel_id})
        assert ack["ok"] is False and ack["code"] == "E_RATE_LIMITED", ack
        assert 0 < ack["retryAfterMs"] <= 60_000
    # Per user and channel: the other channel has a count of its own.
    ack = await on[1].call("typing:start", {"channelId": other_channel})
    assert ack["ok"] is True, ack


async def test_login_failures_on_both_processes_add_up(a: Node, b: Node, people: People) -> None:
    user = await people.person("user")
    on_a, on_b = people.anonymous(a), people.anonymous(b)
    wrong = {"email": user.email, "password": "not the password"}
    # The default limit: 5 failures per account in the window, here 3 on A and 2 on B.
    for number in range(5):
        client = on_a if number % 2 == 0 else on_b
        expect(await client.post("/api/auth/login", json=wrong), 401)
    for client in (on_a, on_b):
        expect(await client.post("/api/auth/login", json=wrong), 429, "E_RATE_LIMITED")
