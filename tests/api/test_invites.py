"""Invites: creation, unguessable codes, accepting (404/409/410), concurrent accepts."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from service.db.engine import create_engine
from service.db.tables import InviteRow
from service.db.timestamps import utcnow
from tests.support.clients import Api, expect
from tests.support.deployment import Deployment
from tests.support.world import World

pytestmark = pytest.mark.anyio

CODE = re.compile(r"[A-Za-z0-9_-]{16,64}")  # URL-safe, at least 96 bits


async def test_create_invite_answers_the_bare_invite(world: World) -> None:
    place = await world.place("private")
    path = f"/api/servers/{place.server_id}/invites"
    forever = expect(await world.admin.http.post(path), 201)
    assert set(forever) == {"code", "server_id", "expires_at", "max_uses", "uses"}
    assert (forever["server_id"], forever["expires_at"], forever["max_uses"], forever["uses"]) == (
        place.server_id,
        None,
        None,
        0,
    )
    limited = expect(
        await world.owner.http.post(path, json={"expires_in_seconds": 3600, "max_uses": 3}), 201
    )
    assert limited["max_uses"] == 3
    assert limited["expires_at"] > utcnow().isoformat()[:19]


async def test_invite_codes_are_url_safe_and_unguessable(world: World) -> None:
    place = await world.place("public")
    codes = [
        expect(await world.owner.http.post(f"/api/servers/{place.server_id}/invites"), 201)["code"]
        for _ in range(20)
    ]
    assert len(set(codes)) == 20
    assert all(CODE.fullmatch(code) for code in codes)


@pytest.mark.parametrize(
    "body",
    [
        {"max_uses": 0},
        {"max_uses": 10001},
        {"expires_in_seconds": 0},
        {"expires_in_seconds": 2592001},
        {"uses": 1},
    ],
    ids=["zero-uses", "too-many-uses", "zero-lifetime", "too-long", "unknown-field"],
)
async def test_create_invite_with_invalid_limits_is_422(world: World, body: dict[str, int]) -> None:
    place = await world.place("public")
    response = await world.owner.http.post(f"/api/servers/{place.server_id}/invites", json=body)
    expect(response, 422, "E_VALIDATION")


async def test_accept_invite_joins_the_server_and_announces_the_member(
    world: World, deployment: Deployment
) -> None:
    place = await world.place("private")
    server = expect(
        await world.outsider.http.post("/api/invites/accept", json={"code": place.invite_code}),
        201,
    )["server"]
    assert (server["id"], server["role"], server["member_count"]) == (place.server_id, "member", 4)
    assert deployment.notifier.effects(server_id=place.server_id)[-1] == (
        "member_joined",
        {
            "server_id": place.server_id,
            "user_id": world.outsider.id,
            "username": world.outsider.username,
        },
    )


async def test_accept_invite_errors_in_the_contracts_order(world: World, api: Api) -> None:
    place = await world.place("private")
    accept = "/api/invites/accept"
    expect(
        await world.outsider.http.post(accept, json={"code": "no-such-code"}),
        404,
        "E_INVITE_NOT_FOUND",
    )
    single = expect(
        await world.owner.http.post(
            f"/api/servers/{place.server_id}/invites", json={"max_uses": 1}
        ),
        201,
    )["code"]
    # Already a member: 409, and no use is counted.
    expect(await world.member.http.post(accept, json={"code": single}), 409, "E_ALREADY_MEMBER")
    expect(await world.outsider.http.post(accept, json={"code": single}), 201)
    latecomer = await api.person()
    expect(await latecomer.http.post(accept, json={"code": single}), 410, "E_INVITE_EXPIRED")
    # Used up, a member still hears 409 first.
    expect(await world.member.http.post(accept, json={"code": single}), 409, "E_ALREADY_MEMBER")


async def test_accept_an_expired_invite_is_410(world: World, deployment: Deployment) -> None:
    place = await world.place("public")
    code = expect(
        await world.owner.http.post(
            f"/api/servers/{place.server_id}/invites", json={"expires_in_seconds": 60}
        ),
        201,
    )["code"]
    engine = create_engine(deployment.settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(InviteRow)
                .where(col(InviteRow.code) == code)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        await engine.dispose()
    response = await world.outsider.http.post("/api/invites/accept", json={"code": code})
    expect(response, 410, "E_INVITE_EXPIRED")


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": "x" * 65}, {"code": 5}])
async def test_accept_invite_with_an_invalid_body_is_422(api: Api, body: dict[str, object]) -> None:
    person = await api.person()
    expect(await person.http.post("/api/invites/accept", json=body), 422, "E_VALIDATION")


async def test_twenty_concurrent_accepts_of_a_five_use_invite_admit_exactly_five(
    world: World, api: Api
) -> None:
    place = await world.place("private")
    code = expect(
        await world.owner.http.post(
            f"/api/servers/{place.server_id}/invites", json={"max_uses": 5}
        ),
        201,
    )["code"]
    people = await asyncio.gather(*(api.person("racer") for _ in range(20)))
    responses = await asyncio.gather(
        *(person.http.post("/api/invites/accept", json={"code": code}) for person in people)
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 5 + [410] * 15, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 410} == {"E_INVITE_EXPIRED"}
    server = expect(await world.owner.http.get(f"/api/servers/{place.server_id}"), 200)["server"]
    assert server["member_count"] == 3 + 5
