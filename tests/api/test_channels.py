"""Channels: list, create (unique names), get, rename, delete, and what sockets are told."""

from __future__ import annotations

import pytest

from tests.support.clients import expect
from tests.support.deployment import Deployment
from tests.support.world import World

pytestmark = pytest.mark.anyio

CHANNEL_FIELDS = {"id", "server_id", "name", "created_at", "updated_at"}


async def test_create_channel_answers_and_announces_the_channel(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    response = await world.admin.http.post(
        f"/api/servers/{place.server_id}/channels", json={"name": "dev_talk-2"}
    )
    channel = expect(response, 201)["channel"]
    assert set(channel) == CHANNEL_FIELDS
    assert (channel["server_id"], channel["name"]) == (place.server_id, "dev_talk-2")
    assert deployment.notifier.effects(server_id=place.server_id)[-1] == (
        "channel_created",
        {"channel": channel, "server_id": place.server_id},
    )
    listed = expect(await world.member.http.get(f"/api/servers/{place.server_id}/channels"), 200)
    assert [c["id"] for c in listed["channels"]] == [place.channel_id, channel["id"]]
    assert expect(await world.member.http.get(f"/api/channels/{channel['id']}"), 200) == {
        "channel": channel
    }


async def test_channel_names_are_unique_within_a_server_only(world: World) -> None:
    public, private = await world.place("public"), await world.place("private")
    expect(
        await world.owner.http.post(
            f"/api/servers/{public.server_id}/channels", json={"name": "general"}
        ),
        409,
        "E_CHANNEL_NAME_TAKEN",
    )
    for place in (public, private):
        expect(
            await world.owner.http.post(
                f"/api/servers/{place.server_id}/channels", json={"name": "same"}
            ),
            201,
        )


@pytest.mark.parametrize(
    "name",
    ["", "General", "has space", "x" * 25, "émoji", None],
    ids=["empty", "upper-case", "space", "too-long", "non-ascii", "null"],
)
async def test_create_channel_with_an_invalid_name_is_422(world: World, name: str | None) -> None:
    place = await world.place("public")
    response = await world.owner.http.post(
        f"/api/servers/{place.server_id}/channels", json={"name": name}
    )
    error = expect(response, 422, "E_VALIDATION")
    assert error["details"][0]["loc"] == ["body", "name"]


async def test_rename_channel_announces_only_a_real_change(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("public")
    path = f"/api/channels/{place.channel_id}"
    before = len(deployment.notifier.effects(server_id=place.server_id))
    renamed = expect(await world.admin.http.patch(path, json={"name": "lobby"}), 200)["channel"]
    assert renamed["name"] == "lobby"
    assert renamed["updated_at"] >= renamed["created_at"]
    same = expect(await world.admin.http.patch(path, json={"name": "lobby"}), 200)["channel"]
    assert same == renamed
    effects = deployment.notifier.effects(server_id=place.server_id)[before:]
    assert effects == [("channel_updated", {"channel": renamed, "server_id": place.server_id})]
    expect(
        await world.owner.http.post(
            f"/api/servers/{place.server_id}/channels", json={"name": "taken"}
        ),
        201,
    )
    expect(await world.owner.http.patch(path, json={"name": "taken"}), 409, "E_CHANNEL_NAME_TAKEN")
    expect(await world.owner.http.patch(path, json={}), 422, "E_VALIDATION")


async def test_delete_channel_removes_it_with_its_messages_and_empties_its_room(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    expect(await world.owner.http.delete(f"/api/channels/{place.channel_id}"), 204)
    assert deployment.notifier.effects(server_id=place.server_id)[-1] == (
        "channel_deleted",
        {"channel_id": place.channel_id, "server_id": place.server_id},
    )
    for path in (
        f"/api/channels/{place.channel_id}",
        f"/api/channels/{place.channel_id}/messages",
    ):
        expect(await world.member.http.get(path), 404, "E_CHANNEL_NOT_FOUND")
    listed = expect(await world.member.http.get(f"/api/servers/{place.server_id}/channels"), 200)
    assert listed == {"channels": []}
    expect(await world.owner.http.delete(f"/api/channels/{place.channel_id}"), 404)
