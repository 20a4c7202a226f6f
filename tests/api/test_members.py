"""Members: the list, role changes (and ownership transfer), kicks."""

from __future__ import annotations

import pytest

from tests.support.clients import expect
from tests.support.deployment import Deployment
from tests.support.world import World

pytestmark = pytest.mark.anyio


async def test_list_members_in_join_order_with_public_profiles(world: World) -> None:
    place = await world.place("public")
    members = expect(await world.member.http.get(f"/api/servers/{place.server_id}/members"), 200)[
        "members"
    ]
    assert [(m["user"]["id"], m["role"]) for m in members] == [
        (world.owner.id, "owner"),
        (world.admin.id, "admin"),
        (world.member.id, "member"),
    ]
    first = members[0]
    assert set(first) == {"user", "role", "joined_at", "online"}
    assert first["user"] == {
        "id": world.owner.id,
        "username": world.owner.username,
        "thumbnail": None,
    }


async def test_update_member_changes_the_role_once_and_announces_it(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    path = f"/api/servers/{place.server_id}/members/{world.member.id}"
    member = expect(await world.owner.http.patch(path, json={"role": "admin"}), 200)["member"]
    assert (member["user"]["id"], member["role"]) == (world.member.id, "admin")
    again = expect(await world.owner.http.patch(path, json={"role": "admin"}), 200)["member"]
    assert again == member
    updates = [
        args
        for name, args in deployment.notifier.effects(server_id=place.server_id)
        if name == "member_updated" and args["user_id"] == world.member.id
    ]
    assert updates == [{"server_id": place.server_id, "user_id": world.member.id, "role": "admin"}]


async def test_setting_owner_transfers_ownership_and_the_caller_becomes_admin(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    before = len(deployment.notifier.effects(server_id=place.server_id))
    path = f"/api/servers/{place.server_id}/members/{world.member.id}"
    member = expect(await world.owner.http.patch(path, json={"role": "owner"}), 200)["member"]
    assert member["role"] == "owner"
    server = expect(await world.member.http.get(f"/api/servers/{place.server_id}"), 200)["server"]
    assert (server["owner_id"], server["role"]) == (world.member.id, "owner")
    old = expect(await world.owner.http.get(f"/api/servers/{place.server_id}"), 200)["server"]
    assert old["role"] == "admin"
    effects = deployment.notifier.effects(server_id=place.server_id)[before:]
    assert [name for name, _ in effects] == ["member_updated", "member_updated", "server_updated"]
    assert effects[0][1] == {
        "server_id": place.server_id,
        "user_id": world.member.id,
        "role": "owner",
    }
    assert effects[1][1] == {
        "server_id": place.server_id,
        "user_id": world.owner.id,
        "role": "admin",
    }
    assert effects[2][1]["server"]["owner_id"] == world.member.id
    # The former owner lost the owner's powers; the new one has them.
    expect(await world.owner.http.patch(path, json={"role": "member"}), 403, "E_FORBIDDEN")
    admin_path = f"/api/servers/{place.server_id}/members/{world.owner.id}"
    expect(await world.member.http.patch(admin_path, json={"role": "member"}), 200)
    expect(await world.owner.http.delete(f"/api/servers/{place.server_id}/leave"), 204)


async def test_update_member_of_a_non_member_is_404_user_not_found(world: World) -> None:
    place = await world.place("public")
    for user_id in (world.outsider.id, 2147483647):
        response = await world.owner.http.patch(
            f"/api/servers/{place.server_id}/members/{user_id}", json={"role": "admin"}
        )
        expect(response, 404, "E_USER_NOT_FOUND")


@pytest.mark.parametrize("body", [{}, {"role": "king"}, {"role": None}, {"role": "admin", "x": 1}])
async def test_update_member_with_an_invalid_role_is_422(
    world: World, body: dict[str, object]
) -> None:
    place = await world.place("public")
    response = await world.owner.http.patch(
        f"/api/servers/{place.server_id}/members/{world.member.id}", json=body
    )
    expect(response, 422, "E_VALIDATION")


async def test_kick_removes_the_member_and_announces_it(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    expect(
        await world.admin.http.delete(f"/api/servers/{place.server_id}/members/{world.member.id}"),
        204,
    )
    assert deployment.notifier.effects(server_id=place.server_id)[-1] == (
        "member_left",
        {
            "server_id": place.server_id,
            "user_id": world.member.id,
            "username": world.member.username,
        },
    )
    expect(await world.member.http.get(f"/api/servers/{place.server_id}"), 404)
    expect(
        await world.admin.http.delete(f"/api/servers/{place.server_id}/members/{world.member.id}"),
        404,
        "E_USER_NOT_FOUND",
    )
    # A kicked member may come back with an invite.
    expect(
        await world.member.http.post("/api/invites/accept", json={"code": place.invite_code}), 201
    )
