"""Schema-valid means accepted, and nothing else is: NUL and a trailing newline.

U+0000 cannot be stored as text by PostgreSQL (it raised, and REST answered 500); the
spec's text patterns now exclude it, so it is refused as invalid before anything is
stored, on SQLite and PostgreSQL, over REST and sockets alike. And the `$` that ends the
name patterns means "end of text" as in JSON Schema (ECMAScript), not Python's "before a
trailing newline": `name\\n` is refused everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from conformance import ASYNCAPI_PATH
from conformance.spec import load_contract
from conformance.target import LocalTarget
from generated.realtime.schemas import REGISTRY
from service.text import acceptable
from tests.rules.observe import Map, Watched
from tests.support.clients import PASSWORD, Api, expect
from tests.support.services import database_overrides

pytestmark = pytest.mark.anyio

NUL_TEXTS = ["a\x00b", "\x00", " \x00 ", "ok\x00"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalTarget]:
    with database_overrides(str(request.param)) as overrides:
        server = LocalTarget(tmp_path_factory.mktemp("text"), **overrides).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
async def api(target: LocalTarget) -> AsyncIterator[Api]:
    async with Api(target.url) as made:
        yield made


async def test_nul_in_content_or_names_is_refused_as_invalid_and_nothing_is_stored(
    target: LocalTarget, api: Api
) -> None:
    owner = await api.person("owner")
    server = expect(
        await owner.http.post("/api/servers", json={"name": "s", "is_public": True}), 201
    )
    server_id = server["server"]["id"]
    channels = expect(await owner.http.get(f"/api/servers/{server_id}/channels"), 200)
    channel_id = channels["channels"][0]["id"]
    path = f"/api/channels/{channel_id}/messages"
    for text in NUL_TEXTS:
        expect(await owner.http.post(path, json={"content": text}), 422, "E_VALIDATION")
        expect(await owner.http.post("/api/servers", json={"name": text}), 422, "E_VALIDATION")
        # An invite code is any string (no 422): one with NUL is no invite's, 404.
        response = await owner.http.post("/api/invites/accept", json={"code": "abc" + text})
        expect(response, 404)
        response = await owner.http.patch(
            f"/api/servers/{server_id}", json={"thumbnail": "https://x/" + text}
        )
        expect(response, 422, "E_VALIDATION")
    client = Watched(load_contract(ASYNCAPI_PATH), Map(), user_id=owner.id, name="owner's socket")
    cookie = owner.http.cookies["connect.sid"]
    await client.connect(target.url, headers={"Cookie": f"connect.sid={cookie}"})
    try:
        assert (await client.call("channel:join", {"channelId": channel_id}))["ok"] is True
        posted = await client.call("message:create", {"channelId": channel_id, "content": "fine"})
        assert posted["ok"] is True
        for text in NUL_TEXTS:
            for event, payload in (
                ("message:create", {"channelId": channel_id, "content": text}),
                ("message:update", {"messageId": posted["message"]["id"], "content": text}),
            ):
                ack = await client.call(event, payload)
                assert ack["ok"] is False and ack["code"] == "E_VALIDATION", ack
        assert client.sio.connected
        assert not client.problems, client.problems
    finally:
        await client.close()
    page = expect(await owner.http.get(path), 200)
    assert [m["content"] for m in page["messages"]] == ["fine"]


async def test_a_name_with_a_trailing_newline_is_refused_over_rest_and_by_the_socket_schemas(
    api: Api,
) -> None:
    http = api.client()
    body = {"username": "name\n", "email": "nl@example.com", "password": PASSWORD}
    expect(await http.post("/api/auth/signup", json=body), 422, "E_VALIDATION")
    owner = await api.person("owner")
    server = expect(await owner.http.post("/api/servers", json={"name": "s"}), 201)["server"]
    response = await owner.http.post(
        f"/api/servers/{server['id']}/channels", json={"name": "general\n"}
    )
    expect(response, 422, "E_VALIDATION")
    # What the sockets check (payloads in, events out) refuses it the same way.
    event = {"serverId": 1, "userId": 1, "username": "name\n"}
    assert REGISTRY.problems("server:member_joined", event)
    assert not REGISTRY.problems("server:member_joined", {**event, "username": "name"})
    typing = {"channelId": 1, "userId": 1, "username": "name\n", "isTyping": True}
    assert REGISTRY.problems("typing:update", typing)


def test_the_nul_rule_is_the_specs_pattern() -> None:
    assert not acceptable("a\x00b") and acceptable(" a ") and not acceptable(" \t ")
