"""REST changes reach sockets through the same emitters: the full app on one port.

`create_app` (REST + Socket.IO), real HTTP with the session cookie, and the generated,
typed Python client on the socket side.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from generated.realtime.client import EventFailed, ZizanyClient
from generated.realtime.models import ChannelJoin, ServerJoin, TypingStart
from service.app import create_app
from service.settings import Settings
from tests.support.live import LiveServer, serve

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("app"),
        strict_emits=True,
        argon2_time_cost=1,
        argon2_memory_cost=1024,
        typing_timeout_seconds=5,
    )
    with serve(create_app(settings)) as live:
        yield live


class Person:
    """A signed-up user: a REST client with its cookie, and typed sockets."""

    def __init__(self, live: LiveServer, name: str) -> None:
        self.live = live
        self.name = name
        self.http = httpx.AsyncClient(base_url=live.url)
        self.sockets: list[ZizanyClient] = []
        self.id = 0

    async def signup(self) -> Person:
        r = await self.http.post(
            "/api/auth/signup",
            json={
                "username": self.name,
                "email": f"{self.name}.{uuid.uuid4().hex[:8]}@example.com",
                "password": "pw-123456",
            },
        )
        assert r.status_code == 201, r.text
        self.id = r.json()["user"]["id"]
        return self

    @property
    def cookie(self) -> str:
        value = self.http.cookies.get("connect.sid")
        assert value is not None
        return value

    async def socket(self, server_id: int, channel_id: int) -> ZizanyClient:
        client = ZizanyClient()
        await client.connect(self.live.url, cookie=self.cookie, transports=["websocket"])
        await client.server_join(ServerJoin(serverId=server_id))
        await client.channel_join(ChannelJoin(channelId=channel_id))
        self.sockets.append(client)
        return client

    async def close(self) -> None:
        for s in self.sockets:
            await s.disconnect()
        await self.http.aclose()


@pytest.fixture
async def people(app_server: LiveServer) -> AsyncIterator[dict[str, Person]]:
    made = {n: await Person(app_server, n).signup() for n in ("owner", "member", "other")}
    try:
        yield made
    finally:
        for p in made.values():
            await p.close()


async def server_with_member(people: dict[str, Person]) -> tuple[int, int, str]:
    owner, member = people["owner"], people["member"]
    r = await owner.http.post("/api/servers", json={"name": "Guild"})
    server_id = r.json()["server"]["id"]
    channels = (await owner.http.get(f"/api/servers/{server_id}/channels")).json()["channels"]
    invite = await owner.http.post(f"/api/servers/{server_id}/invites", json={})
    code = invite.json()["code"]
    assert (await member.http.post("/api/invites/accept", json={"code": code})).status_code == 201
    return server_id, channels[0]["id"], code


async def quiet(client: ZizanyClient, seconds: float = 0.3) -> list[Any]:
    """Whatever else arrives within `seconds` (events not yet taken)."""
    await asyncio.sleep(seconds)
    got = []
    while True:
        try:
            got.append(await asyncio.wait_for(anext(aiter(client.events())), 0.05))
        except TimeoutError:
            return got


async def test_rest_messages_arrive_as_the_same_objects_on_sockets(
    people: dict[str, Person],
) -> None:
    server_id, channel_id, _ = await server_with_member(people)
    owner, member = people["owner"], people["member"]
    watcher = await member.socket(server_id, channel_id)
    created = await owner.http.post(
        f"/api/channels/{channel_id}/messages", json={"content": "  from REST  "}
    )
    assert created.status_code == 201
    body = created.json()["message"]
    new = await watcher.wait_for("message:new", timeout=5)
    assert new.model_dump(mode="json") == body
    edited = await owner.http.patch(
        f"/api/channels/{channel_id}/messages/{body['id']}", json={"content": "edited"}
    )
    updated = await watcher.wait_for("message:updated", timeout=5)
    assert updated.model_dump(mode="json") == edited.json()["message"]
    r = await owner.http.delete(f"/api/channels/{channel_id}/messages/{body['id']}")
    assert r.status_code == 204
    deleted = await watcher.wait_for("message:deleted", timeout=5)
    assert (deleted.messageId, deleted.channelId) == (body["id"], channel_id)


async def test_rest_structure_changes_reach_the_server_room(people: dict[str, Person]) -> None:
    server_id, channel_id, _ = await server_with_member(people)
    owner, member = people["owner"], people["member"]
    watcher = await member.socket(server_id, channel_id)
    made = await owner.http.post(f"/api/servers/{server_id}/channels", json={"name": "random"})
    assert (await watcher.wait_for("channel:created", timeout=5)).model_dump(
        mode="json"
    ) == made.json()["channel"]
    new_id = made.json()["channel"]["id"]
    await owner.http.patch(f"/api/channels/{new_id}", json={"name": "off-topic"})
    assert (await watcher.wait_for("channel:updated", timeout=5)).name == "off-topic"
    await owner.http.patch(f"/api/servers/{server_id}", json={"name": "Renamed"})
    assert (await watcher.wait_for("server:updated", timeout=5)).name == "Renamed"
    await owner.http.patch(f"/api/servers/{server_id}/members/{member.id}", json={"role": "admin"})
    role = await watcher.wait_for("server:member_updated", timeout=5)
    assert (role.userId, role.role) == (member.id, "admin")
    await owner.http.delete(f"/api/channels/{new_id}")
    gone = await watcher.wait_for("channel:deleted", timeout=5)
    assert (gone.channelId, gone.serverId) == (new_id, server_id)


async def test_join_and_kick_over_rest_announce_and_revoke(people: dict[str, Person]) -> None:
    server_id, channel_id, code = await server_with_member(people)
    owner, member, other = people["owner"], people["member"], people["other"]
    owner_socket = await owner.socket(server_id, channel_id)
    r = await other.http.post(f"/api/servers/{server_id}/join", json={"code": code})
    assert r.status_code == 201
    joined = await owner_socket.wait_for("server:member_joined", timeout=5)
    assert (joined.userId, joined.username) == (other.id, "other")

    kicked = await member.socket(server_id, channel_id)
    r = await owner.http.delete(f"/api/servers/{server_id}/members/{member.id}")
    assert r.status_code == 204
    left = await owner_socket.wait_for("server:member_left", timeout=5)
    assert left.userId == member.id
    await quiet(kicked)  # whatever was in flight before the kick
    await owner.http.post(f"/api/channels/{channel_id}/messages", json={"content": "secret"})
    await owner_socket.typing_start(TypingStart(channelId=channel_id))
    assert await quiet(kicked, 0.5) == []  # 0 further events reach the removed user
    with pytest.raises(EventFailed) as refused:
        await kicked.channel_join(ChannelJoin(channelId=channel_id))
    # The server is private: to the removed user its channel is now missing.
    assert refused.value.code == "E_CHANNEL_NOT_FOUND"


async def test_logout_over_rest_disconnects_that_sessions_sockets(
    people: dict[str, Person],
) -> None:
    server_id, channel_id, _ = await server_with_member(people)
    member = people["member"]
    socket = await member.socket(server_id, channel_id)
    assert socket.connected
    assert (await member.http.post("/api/auth/logout")).status_code == 204
    for _ in range(50):
        if not socket.connected:
            break
        await asyncio.sleep(0.05)
    assert not socket.connected
