"""Messages: posting (the socket's object), cursor pages both ways, editing, deleting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from tests.support.clients import PASSWORD, expect
from tests.support.deployment import Deployment, make_settings
from tests.support.live import serve
from tests.support.world import World

pytestmark = pytest.mark.anyio


async def post(world: World, channel_id: int, content: str) -> dict[str, Any]:
    """Post as the world's member; the message as answered."""
    response = await world.member.http.post(
        f"/api/channels/{channel_id}/messages", json={"content": content}
    )
    message: dict[str, Any] = expect(response, 201)["message"]
    return message


async def test_create_message_answers_exactly_what_the_socket_broadcasts(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("public")
    message = await post(world, place.channel_id, "  hello there \n")
    assert message["content"] == "hello there"
    assert message["user"] == {"id": world.member.id, "username": world.member.username}
    assert message["channel_id"] == place.channel_id
    assert message["created_at"] == message["updated_at"]
    assert deployment.notifier.effects(channel_id=place.channel_id)[-1] == (
        "message_created",
        {"message": message, "channel_id": place.channel_id},
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"content": ""}, {"content": " \n\t "}, {"content": "x" * 4001}, {"content": 5}],
    ids=["missing", "empty", "blank", "too-long", "not-a-string"],
)
async def test_create_message_with_invalid_content_is_422(
    world: World, body: dict[str, object]
) -> None:
    place = await world.place("public")
    response = await world.member.http.post(f"/api/channels/{place.channel_id}/messages", json=body)
    expect(response, 422, "E_VALIDATION")


async def test_create_message_takes_4000_characters(world: World) -> None:
    place = await world.place("public")
    assert (await post(world, place.channel_id, "x" * 4000))["content"] == "x" * 4000


async def test_history_pages_backwards_by_cursor_oldest_first(world: World) -> None:
    place = await world.place("private")
    ids = [place.member_message_id, place.owner_message_id]
    ids += [(await post(world, place.channel_id, f"m{n}"))["id"] for n in range(5)]
    path = f"/api/channels/{place.channel_id}/messages"
    everything = expect(await world.admin.http.get(path), 200)
    assert [m["id"] for m in everything["messages"]] == ids
    assert everything["next_before"] is None
    pages, before = [], None
    while True:
        params = {"limit": 3} | ({"before": before} if before else {})
        page = expect(await world.admin.http.get(path, params=params), 200)
        assert set(page) == {"messages", "next_before"}
        pages.append([m["id"] for m in page["messages"]])
        before = page["next_before"]
        if before is None:
            break
        assert before == page["messages"][0]["id"]
    assert pages == [ids[4:], ids[1:4], ids[:1]]


async def test_history_pages_forwards_after_a_cursor_to_catch_up(world: World) -> None:
    place = await world.place("public")
    ids = [place.member_message_id, place.owner_message_id]
    ids += [(await post(world, place.channel_id, f"m{n}"))["id"] for n in range(3)]
    path = f"/api/channels/{place.channel_id}/messages"
    page = expect(await world.member.http.get(path, params={"after": ids[0], "limit": 2}), 200)
    assert set(page) == {"messages", "next_after"}
    assert ([m["id"] for m in page["messages"]], page["next_after"]) == (ids[1:3], ids[2])
    page = expect(await world.member.http.get(path, params={"after": ids[2], "limit": 2}), 200)
    assert ([m["id"] for m in page["messages"]], page["next_after"]) == (ids[3:], None)
    page = expect(await world.member.http.get(path, params={"after": ids[-1]}), 200)
    assert page == {"messages": [], "next_after": None}
    # A cursor is only a bound: any id works, even one from another channel.
    page = expect(await world.member.http.get(path, params={"before": 1}), 200)
    assert page == {"messages": [], "next_before": None}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "many"},
        {"before": 0},
        {"after": "x"},
        {"before": 2147483648},
        {"before": 5, "after": 1},
    ],
    ids=["limit-0", "limit-101", "limit-text", "before-0", "after-text", "before-too-big", "both"],
)
async def test_history_with_invalid_parameters_is_422(
    world: World, params: dict[str, int | str]
) -> None:
    place = await world.place("public")
    response = await world.member.http.get(
        f"/api/channels/{place.channel_id}/messages", params=params
    )
    error = expect(response, 422, "E_VALIDATION")
    assert error["details"][0]["loc"][0] == "query"


async def test_history_ignores_unknown_query_parameters(world: World) -> None:
    place = await world.place("public")
    response = await world.member.http.get(
        f"/api/channels/{place.channel_id}/messages", params={"offset": 5, "limit": 100}
    )
    assert len(expect(response, 200)["messages"]) == 2


async def test_update_message_by_its_author_edits_and_broadcasts_it(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("public")
    path = f"/api/channels/{place.channel_id}/messages/{place.member_message_id}"
    edited = expect(await world.member.http.patch(path, json={"content": " edited "}), 200)
    message = edited["message"]
    assert (message["id"], message["content"]) == (place.member_message_id, "edited")
    assert message["updated_at"] >= message["created_at"]
    assert deployment.notifier.effects(channel_id=place.channel_id)[-1] == (
        "message_updated",
        {"message": message, "channel_id": place.channel_id},
    )
    history = expect(await world.owner.http.get(f"/api/channels/{place.channel_id}/messages"), 200)
    assert message in history["messages"]


async def test_a_message_of_another_channel_is_404_message_not_found(world: World) -> None:
    public, private = await world.place("public"), await world.place("private")
    wrong = f"/api/channels/{public.channel_id}/messages/{private.member_message_id}"
    expect(await world.member.http.patch(wrong, json={"content": "x"}), 404, "E_MESSAGE_NOT_FOUND")
    expect(await world.member.http.delete(wrong), 404, "E_MESSAGE_NOT_FOUND")
    missing = f"/api/channels/{public.channel_id}/messages/2147483647"
    expect(await world.owner.http.delete(missing), 404, "E_MESSAGE_NOT_FOUND")


async def test_delete_message_removes_and_broadcasts_it(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    path = f"/api/channels/{place.channel_id}/messages/{place.member_message_id}"
    expect(await world.admin.http.delete(path), 204)
    assert deployment.notifier.effects(channel_id=place.channel_id)[-1] == (
        "message_deleted",
        {"message_id": place.member_message_id, "channel_id": place.channel_id},
    )
    history = expect(await world.member.http.get(f"/api/channels/{place.channel_id}/messages"), 200)
    assert [m["id"] for m in history["messages"]] == [place.owner_message_id]
    expect(await world.member.http.delete(path), 404, "E_MESSAGE_NOT_FOUND")


def test_posting_too_fast_is_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, message_rate_limit=3, message_rate_window_seconds=30)
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url) as client:
        signup = {"username": "fast", "email": "fast@example.com", "password": PASSWORD}
        expect(client.post("/api/auth/signup", json=signup), 201)
        server = expect(client.post("/api/servers", json={"name": "s"}), 201)["server"]
        channels = expect(client.get(f"/api/servers/{server['id']}/channels"), 200)
        path = f"/api/channels/{channels['channels'][0]['id']}/messages"
        for n in range(3):
            expect(client.post(path, json={"content": f"m{n}"}), 201)
        limited = client.post(path, json={"content": "one too many"})
        expect(limited, 429, "E_RATE_LIMITED")
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        history = expect(client.get(path), 200)
        assert len(history["messages"]) == 3
