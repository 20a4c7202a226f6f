"""One live Zizany per module (REST + Socket.IO on one port), and a Town of people in it.

Black-box: people sign up over REST (the answer's cookie authenticates their sockets),
servers and channels are made over REST, and every socket is a `Watched` real
python-socketio AsyncClient. Nothing here imports the service's internals: what is right
comes from spec/asyncapi.yaml (`conformance.spec`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from conformance import ASYNCAPI_PATH
from conformance.spec import Contract, load_contract
from conformance.target import LocalTarget
from tests.rules.observe import Map, Watched
from tests.support.clients import Api, Person, expect

# Any channel id the spec accepts that no test's server has: leaving it is a no-op.
NO_SUCH_CHANNEL = 2_147_483_647


@pytest.fixture(scope="session")
def contract() -> Contract:
    """spec/asyncapi.yaml, as the conformance runner reads it."""
    return load_contract(ASYNCAPI_PATH)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTarget]:
    """The real app (`create_app`), as `zizany serve` builds it, over a fresh SQLite file."""
    server = LocalTarget(tmp_path_factory.mktemp("rules")).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Place:
    """A server made over REST and its first channel."""

    server_id: int
    channel_id: int


class Town:
    """People, servers and watched sockets on one live deployment."""

    def __init__(self, url: str, contract: Contract) -> None:
        self.url = url
        self.contract = contract
        self.api = Api(url)
        self.map = Map()
        self.sockets: list[Watched] = []

    async def person(self, name: str) -> Person:
        return await self.api.person(name)

    async def server(self, owner: Person, *members: Person, public: bool = True) -> Place:
        """A server owned by `owner` with `members` in it (joined over REST, by invite)."""
        body = {"name": f"{owner.username}'s", "is_public": public}
        server_id = expect(await owner.http.post("/api/servers", json=body), 201)["server"]["id"]
        channels = expect(await owner.http.get(f"/api/servers/{server_id}/channels"), 200)
        channel_id = channels["channels"][0]["id"]
        self.map.server_of[channel_id] = server_id
        if members:
            code = expect(await owner.http.post(f"/api/servers/{server_id}/invites"), 201)["code"]
            for member in members:
                path = f"/api/servers/{server_id}/join"
                expect(await member.http.post(path, json={"code": code}), 201)
        return Place(server_id, channel_id)

    async def channel(self, owner: Person, place: Place, name: str) -> int:
        """Another channel in the place's server."""
        path = f"/api/servers/{place.server_id}/channels"
        channel_id: int = expect(await owner.http.post(path, json={"name": name}), 201)["channel"][
            "id"
        ]
        self.map.server_of[channel_id] = place.server_id
        return channel_id

    async def socket(self, person: Person, *, name: str | None = None) -> Watched:
        """A connected, watched socket with the person's session cookie."""
        client = Watched(
            self.contract, self.map, user_id=person.id, name=name or f"{person.username}'s socket"
        )
        cookie = person.http.cookies["connect.sid"]
        await client.connect(self.url, headers={"Cookie": f"connect.sid={cookie}"})
        self.sockets.append(client)
        return client

    async def joined(self, person: Person, place: Place, *, channel: bool = True) -> Watched:
        """A socket of `person` in the place's server room (and its channel's room)."""
        client = await self.socket(person)
        assert (await client.call("server:join", {"serverId": place.server_id}))["ok"] is True
        if channel:
            ack = await client.call("channel:join", {"channelId": place.channel_id})
            assert ack["ok"] is True
        return client

    async def post(self, person: Person, channel_id: int, content: str) -> dict[str, Any]:
        """A message created over REST; its body."""
        path = f"/api/channels/{channel_id}/messages"
        message: dict[str, Any] = expect(
            await person.http.post(path, json={"content": content}), 201
        )["message"]
        return message

    async def settle(self, *clients: Watched) -> None:
        """Wait until every event sent to these sockets so far has arrived.

        Each socket's events travel in order on its connection: once the ack of a request
        sent now is back, everything the server sent that socket before has arrived.
        """
        for client in clients or tuple(c for c in self.sockets if c.sio.connected):
            await client.call("channel:leave", {"channelId": NO_SUCH_CHANNEL})

    def problems(self) -> list[str]:
        return [p for c in self.sockets for p in c.problems]

    def assert_clean(self) -> None:
        """No socket received anything the contract does not allow."""
        problems = self.problems()
        assert not problems, "\n".join(problems)

    async def aclose(self) -> None:
        for client in self.sockets:
            await client.close()
        await self.api.aclose()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember whether the test itself failed (its teardown then adds no second report)."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
async def town(
    target: LocalTarget, contract: Contract, request: pytest.FixtureRequest
) -> AsyncIterator[Town]:
    """A Town; when the test ends, every socket must have received only what is allowed."""
    place = Town(target.url, contract)
    try:
        yield place
        if not request.node.stash.get(FAILED, False):
            if any(c.sio.connected for c in place.sockets):
                await place.settle()
            place.assert_clean()
    finally:
        await place.aclose()
