"""The authorization matrix: owner / admin / member / outsider × every operation on a
server, for a public and a private server, with the exact status and code.

A private server (or anything in it) is invisible to an outsider: 404, never 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from generated.rest.operations import OPERATIONS
from tests.support.clients import Api, expect
from tests.support.deployment import Deployment
from tests.support.services import run_in_fresh_loop
from tests.support.world import Place, SavedWorld, World, build_world

pytestmark = pytest.mark.anyio

RequestSpec = tuple[str, str, Any]
Build = Callable[[World, Place], RequestSpec]

# The request each operation makes against a place (the target member is the plain
# member; the target message is the plain member's).
REQUESTS: dict[str, Build] = {
    "get_server": lambda w, p: ("GET", f"/api/servers/{p.server_id}", None),
    "update_server": lambda w, p: ("PATCH", f"/api/servers/{p.server_id}", {"name": "renamed"}),
    "delete_server": lambda w, p: ("DELETE", f"/api/servers/{p.server_id}", None),
    "join_server": lambda w, p: ("POST", f"/api/servers/{p.server_id}/join", {}),
    "leave_server": lambda w, p: ("DELETE", f"/api/servers/{p.server_id}/leave", None),
    "list_members": lambda w, p: ("GET", f"/api/servers/{p.server_id}/members", None),
    "update_member": lambda w, p: (
        "PATCH",
        f"/api/servers/{p.server_id}/members/{w.member.id}",
        {"role": "admin"},
    ),
    "kick_member": lambda w, p: (
        "DELETE",
        f"/api/servers/{p.server_id}/members/{w.member.id}",
        None,
    ),
    "create_invite": lambda w, p: ("POST", f"/api/servers/{p.server_id}/invites", {}),
    "accept_invite": lambda w, p: ("POST", "/api/invites/accept", {"code": p.invite_code}),
    "list_channels": lambda w, p: ("GET", f"/api/servers/{p.server_id}/channels", None),
    "create_channel": lambda w, p: (
        "POST",
        f"/api/servers/{p.server_id}/channels",
        {"name": "new-room"},
    ),
    "get_channel": lambda w, p: ("GET", f"/api/channels/{p.channel_id}", None),
    "update_channel": lambda w, p: ("PATCH", f"/api/channels/{p.channel_id}", {"name": "renamed"}),
    "delete_channel": lambda w, p: ("DELETE", f"/api/channels/{p.channel_id}", None),
    "list_messages": lambda w, p: ("GET", f"/api/channels/{p.channel_id}/messages", None),
    "create_message": lambda w, p: (
        "POST",
        f"/api/channels/{p.channel_id}/messages",
        {"content": "hello"},
    ),
    "update_message": lambda w, p: (
        "PATCH",
        f"/api/channels/{p.channel_id}/messages/{p.member_message_id}",
        {"content": "edited"},
    ),
    "delete_message": lambda w, p: (
        "DELETE",
        f"/api/channels/{p.channel_id}/messages/{p.member_message_id}",
        None,
    ),
}

OK = None
F = "E_FORBIDDEN"
S404 = (404, "E_SERVER_NOT_FOUND")
C404 = (404, "E_CHANNEL_NOT_FOUND")
FORBIDDEN = (403, F)
ALREADY = (409, "E_ALREADY_MEMBER")

Expected = tuple[int, str | None]

# operation: (owner, admin, member, outsider of the public server, outsider of the private)
MATRIX: dict[str, tuple[Expected, Expected, Expected, Expected, Expected]] = {
    "get_server": ((200, OK), (200, OK), (200, OK), (200, OK), S404),
    "update_server": ((200, OK), FORBIDDEN, FORBIDDEN, FORBIDDEN, S404),
    "delete_server": ((204, OK), FORBIDDEN, FORBIDDEN, FORBIDDEN, S404),
    "join_server": (ALREADY, ALREADY, ALREADY, (201, OK), (403, "E_INVITE_REQUIRED")),
    "leave_server": ((403, "E_OWNER_CANNOT_LEAVE"), (204, OK), (204, OK), FORBIDDEN, S404),
    "list_members": ((200, OK), (200, OK), (200, OK), FORBIDDEN, S404),
    "update_member": ((200, OK), FORBIDDEN, FORBIDDEN, FORBIDDEN, S404),
    "kick_member": ((204, OK), (204, OK), FORBIDDEN, FORBIDDEN, S404),
    "create_invite": ((201, OK), (201, OK), FORBIDDEN, FORBIDDEN, S404),
    "accept_invite": (ALREADY, ALREADY, ALREADY, (201, OK), (201, OK)),
    "list_channels": ((200, OK), (200, OK), (200, OK), FORBIDDEN, S404),
    "create_channel": ((201, OK), (201, OK), FORBIDDEN, FORBIDDEN, S404),
    "get_channel": ((200, OK), (200, OK), (200, OK), FORBIDDEN, C404),
    "update_channel": ((200, OK), (200, OK), FORBIDDEN, FORBIDDEN, C404),
    "delete_channel": ((204, OK), (204, OK), FORBIDDEN, FORBIDDEN, C404),
    "list_messages": ((200, OK), (200, OK), (200, OK), FORBIDDEN, C404),
    "create_message": ((201, OK), (201, OK), (201, OK), FORBIDDEN, C404),
    "update_message": (FORBIDDEN, FORBIDDEN, (200, OK), FORBIDDEN, C404),
    "delete_message": ((204, OK), (204, OK), (204, OK), FORBIDDEN, C404),
}


def _cases() -> list[Any]:
    cases = []
    for operation, (owner, admin, member, outsider_public, outsider_private) in MATRIX.items():
        for visibility in ("public", "private"):
            outsider = outsider_public if visibility == "public" else outsider_private
            for role, expected in (
                ("owner", owner),
                ("admin", admin),
                ("member", member),
                ("outsider", outsider),
            ):
                cases.append(
                    pytest.param(
                        operation, role, visibility, expected, id=f"{operation}-{role}-{visibility}"
                    )
                )
    return cases


def test_the_matrix_covers_every_server_operation() -> None:
    unscoped = {
        "get_health",
        "signup",
        "login",
        "logout",
        "get_me",
        "list_servers",
        "create_server",
    }
    assert set(MATRIX) == set(REQUESTS) == set(OPERATIONS) - unscoped


@pytest.fixture(scope="session")
def saved_world(deployment: Deployment) -> SavedWorld:
    """One world per backend for the cases that change nothing (reads and refusals)."""

    async def build() -> SavedWorld:
        async with Api(deployment.url) as api:
            world = await build_world(api)
            for visibility in ("public", "private"):
                await world.place(visibility)
            return world.saved()

    return run_in_fresh_loop(build())


@pytest.mark.parametrize(("operation", "role", "visibility", "expected"), _cases())
async def test_authorization(
    request: pytest.FixtureRequest,
    api: Api,
    operation: str,
    role: str,
    visibility: str,
    expected: Expected,
) -> None:
    status, code = expected
    # A success that changes something needs a world of its own; the rest share one.
    changes = status < 400 and OPERATIONS[operation][0] != "GET"
    if changes:
        world = await build_world(api)
    else:
        world = request.getfixturevalue("saved_world").restore(api)
    method, path, body = REQUESTS[operation](world, await world.place(visibility))
    response = await world.role(role).http.request(method, path, json=body)
    expect(response, status, code)


# Rules that depend on the target, not only on the caller's role.
TARGETED: list[Any] = [
    pytest.param("admin", "kick", "admin", 403, id="admin-kicks-admin"),
    pytest.param("admin", "kick", "owner", 403, id="admin-kicks-owner"),
    pytest.param("owner", "kick", "owner", 403, id="owner-kicks-itself"),
    pytest.param("admin", "kick", "admin-self", 403, id="admin-kicks-itself"),
    pytest.param("owner", "kick", "admin", 204, id="owner-kicks-admin"),
    pytest.param("owner", "role", "owner", 403, id="owner-changes-own-role"),
    pytest.param("member", "edit", "owner-message", 403, id="member-edits-owners-message"),
    pytest.param("owner", "edit", "owner-message", 200, id="owner-edits-own-message"),
    pytest.param("member", "delete", "owner-message", 403, id="member-deletes-owners-message"),
    pytest.param("admin", "delete", "owner-message", 204, id="admin-deletes-owners-message"),
]


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize(("actor", "action", "target", "status"), TARGETED)
async def test_authorization_depending_on_the_target(
    world: World, visibility: str, actor: str, action: str, target: str, status: int
) -> None:
    place = await world.place(visibility)
    people = {"admin": world.admin, "owner": world.owner, "admin-self": world.admin}
    if action == "kick":
        path = f"/api/servers/{place.server_id}/members/{people[target].id}"
        response = await world.role(actor).http.delete(path)
    elif action == "role":
        path = f"/api/servers/{place.server_id}/members/{world.owner.id}"
        response = await world.role(actor).http.patch(path, json={"role": "admin"})
    else:
        path = f"/api/channels/{place.channel_id}/messages/{place.owner_message_id}"
        if action == "edit":
            response = await world.role(actor).http.patch(path, json={"content": "edited"})
        else:
            response = await world.role(actor).http.delete(path)
    expect(response, status, "E_FORBIDDEN" if status == 403 else None)
