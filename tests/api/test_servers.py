"""Servers: create, list, get, update, delete, join (public / invite) and leave."""

from __future__ import annotations

import pytest

from tests.support.clients import Api, expect
from tests.support.deployment import Deployment
from tests.support.world import World

pytestmark = pytest.mark.anyio

SERVER_FIELDS = {
    "id",
    "name",
    "thumbnail",
    "banner",
    "is_public",
    "owner_id",
    "member_count",
    "online_count",
    "role",
    "created_at",
    "updated_at",
}


async def test_create_server_makes_the_caller_owner_with_a_general_channel(
    api: Api, deployment: Deployment
) -> None:
    owner = await api.person()
    response = await owner.http.post(
        "/api/servers", json={"name": "  Zizany fans  ", "thumbnail": "https://example.com/t.png"}
    )
    server = expect(response, 201)["server"]
    assert set(server) == SERVER_FIELDS
    assert server["name"] == "Zizany fans"
    assert server["is_public"] is False
    assert (server["owner_id"], server["role"], server["member_count"]) == (owner.id, "owner", 1)
    assert (server["thumbnail"], server["banner"]) == ("https://example.com/t.png", None)
    assert server["created_at"] == server["updated_at"]
    channels = expect(await owner.http.get(f"/api/servers/{server['id']}/channels"), 200)
    assert [c["name"] for c in channels["channels"]] == ["general"]
    assert deployment.notifier.effects(server_id=server["id"]) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "ok", "thumbnail": "ftp://x"},
    ],
    ids=["missing-name", "empty-name", "blank-name", "long-name", "thumbnail-not-http"],
)
async def test_create_server_with_an_invalid_body_is_422(api: Api, body: dict[str, str]) -> None:
    owner = await api.person()
    expect(await owner.http.post("/api/servers", json=body), 422, "E_VALIDATION")


async def test_list_servers_shows_public_ones_and_the_callers_own_ordered_by_id(
    api: Api,
) -> None:
    me, other = await api.person(), await api.person()
    mine_private = expect(await me.http.post("/api/servers", json={"name": "mine"}), 201)
    others_public = expect(
        await other.http.post("/api/servers", json={"name": "open", "is_public": True}), 201
    )
    others_private = expect(await other.http.post("/api/servers", json={"name": "secret"}), 201)
    servers = expect(await me.http.get("/api/servers"), 200)["servers"]
    ids = [s["id"] for s in servers]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    by_id = {s["id"]: s for s in servers}
    assert by_id[mine_private["server"]["id"]]["role"] == "owner"
    assert by_id[others_public["server"]["id"]]["role"] is None
    assert others_private["server"]["id"] not in by_id
    assert all(s["is_public"] or s["role"] is not None for s in servers)


async def test_get_server_shows_a_public_server_to_anyone_and_hides_a_private_one(
    world: World,
) -> None:
    public, private = await world.place("public"), await world.place("private")
    seen = expect(await world.outsider.http.get(f"/api/servers/{public.server_id}"), 200)
    assert (seen["server"]["role"], seen["server"]["member_count"]) == (None, 3)
    expect(
        await world.outsider.http.get(f"/api/servers/{private.server_id}"),
        404,
        "E_SERVER_NOT_FOUND",
    )
    expect(await world.outsider.http.get("/api/servers/2147483647"), 404, "E_SERVER_NOT_FOUND")
    admin_view = expect(await world.admin.http.get(f"/api/servers/{private.server_id}"), 200)
    assert admin_view["server"]["role"] == "admin"


async def test_online_count_and_member_online_come_from_presence(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    deployment.notifier.online.update({world.owner.id, world.member.id})
    server = expect(await world.admin.http.get(f"/api/servers/{place.server_id}"), 200)["server"]
    assert (server["member_count"], server["online_count"]) == (3, 2)
    listed = expect(await world.admin.http.get("/api/servers"), 200)["servers"]
    assert [s["online_count"] for s in listed if s["id"] == place.server_id] == [2]
    members = expect(await world.admin.http.get(f"/api/servers/{place.server_id}/members"), 200)
    online = {m["user"]["id"]: m["online"] for m in members["members"]}
    assert online == {world.owner.id: True, world.admin.id: False, world.member.id: True}


async def test_update_server_changes_the_sent_fields_and_announces_the_server(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    path = f"/api/servers/{place.server_id}"
    expect(await world.owner.http.patch(path, json={"banner": "https://example.com/b.png"}), 200)
    updated = expect(
        await world.owner.http.patch(
            path, json={"name": " Renamed ", "is_public": True, "banner": None}
        ),
        200,
    )["server"]
    assert (updated["name"], updated["is_public"], updated["banner"]) == ("Renamed", True, None)
    assert updated["role"] == "owner"
    assert updated["updated_at"] >= updated["created_at"]
    announced = [
        args["server"]
        for name, args in deployment.notifier.effects(server_id=place.server_id)
        if name == "server_updated"
    ]
    assert len(announced) == 2
    assert announced[-1] == {k: v for k, v in updated.items() if k in announced[-1]}
    assert set(announced[-1]) == SERVER_FIELDS - {"role", "member_count", "online_count"}


@pytest.mark.parametrize(
    "body",
    [{}, {"name": None}, {"is_public": None}, {"name": "   "}, {"owner_id": 5}],
    ids=["empty", "null-name", "null-is-public", "blank-name", "unknown-field"],
)
async def test_update_server_with_an_invalid_body_is_422(
    world: World, body: dict[str, object]
) -> None:
    place = await world.place("public")
    response = await world.owner.http.patch(f"/api/servers/{place.server_id}", json=body)
    error = expect(response, 422, "E_VALIDATION")
    assert error["details"]


async def test_delete_server_removes_everything_and_empties_its_rooms(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("public")
    extra = expect(
        await world.owner.http.post(
            f"/api/servers/{place.server_id}/channels", json={"name": "extra"}
        ),
        201,
    )["channel"]
    expect(await world.owner.http.delete(f"/api/servers/{place.server_id}"), 204)
    assert deployment.notifier.effects(server_id=place.server_id)[-1] == (
        "server_deleted",
        {"server_id": place.server_id, "channel_ids": [place.channel_id, extra["id"]]},
    )
    expect(await world.owner.http.get(f"/api/servers/{place.server_id}"), 404, "E_SERVER_NOT_FOUND")
    expect(
        await world.owner.http.get(f"/api/channels/{place.channel_id}"), 404, "E_CHANNEL_NOT_FOUND"
    )
    servers = expect(await world.member.http.get("/api/servers"), 200)["servers"]
    assert place.server_id not in [s["id"] for s in servers]
    expect(
        await world.owner.http.post("/api/invites/accept", json={"code": place.invite_code}),
        404,
        "E_INVITE_NOT_FOUND",
    )


async def test_join_a_public_server_needs_no_code_and_announces_the_member(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("public")
    joined = expect(await world.outsider.http.post(f"/api/servers/{place.server_id}/join"), 201)[
        "server"
    ]
    assert (joined["role"], joined["member_count"]) == ("member", 4)
    assert deployment.notifier.effects(server_id=place.server_id)[-1] == (
        "member_joined",
        {
            "server_id": place.server_id,
            "user_id": world.outsider.id,
            "username": world.outsider.username,
        },
    )
    expect(
        await world.outsider.http.post(f"/api/servers/{place.server_id}/join", json={}),
        409,
        "E_ALREADY_MEMBER",
    )


async def test_join_a_public_server_ignores_a_code_and_does_not_count_it(
    world: World, api: Api
) -> None:
    place = await world.place("public")
    invite = expect(
        await world.owner.http.post(
            f"/api/servers/{place.server_id}/invites", json={"max_uses": 1}
        ),
        201,
    )
    path = f"/api/servers/{place.server_id}/join"
    expect(await world.outsider.http.post(path, json={"code": invite["code"]}), 201)
    expect(await world.outsider.http.post(path, json={"code": "no-such-code"}), 409)
    latecomer = await api.person()
    expect(await latecomer.http.post("/api/invites/accept", json={"code": invite["code"]}), 201)


async def test_join_a_private_server_needs_a_live_invite_of_that_server(
    world: World, api: Api
) -> None:
    private = await world.place("private")
    public = await world.place("public")
    path = f"/api/servers/{private.server_id}/join"
    outsider = world.outsider
    expect(await outsider.http.post(path), 403, "E_INVITE_REQUIRED")
    expect(await outsider.http.post(path, json={"code": "nope"}), 403, "E_INVITE_REQUIRED")
    expect(
        await outsider.http.post(path, json={"code": public.invite_code}), 403, "E_INVITE_REQUIRED"
    )
    spent = expect(
        await world.owner.http.post(
            f"/api/servers/{private.server_id}/invites", json={"max_uses": 1}
        ),
        201,
    )
    first = await api.person()
    expect(await first.http.post(path, json={"code": spent["code"]}), 201)
    expect(await outsider.http.post(path, json={"code": spent["code"]}), 403, "E_INVITE_REQUIRED")
    joined = expect(await outsider.http.post(path, json={"code": private.invite_code}), 201)
    assert joined["server"]["role"] == "member"
    expect(await outsider.http.post("/api/servers/2147483647/join"), 404, "E_SERVER_NOT_FOUND")


async def test_leave_server_removes_the_member_and_announces_it(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    expect(await world.member.http.delete(f"/api/servers/{place.server_id}/leave"), 204)
    assert deployment.notifier.effects(server_id=place.server_id)[-1] == (
        "member_left",
        {
            "server_id": place.server_id,
            "user_id": world.member.id,
            "username": world.member.username,
        },
    )
    # Gone from a private server means it is invisible again.
    expect(await world.member.http.get(f"/api/servers/{place.server_id}"), 404)
    expect(await world.member.http.delete(f"/api/servers/{place.server_id}/leave"), 404)
    expect(
        await world.owner.http.delete(f"/api/servers/{place.server_id}/leave"),
        403,
        "E_OWNER_CANNOT_LEAVE",
    )
