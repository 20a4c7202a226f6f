"""Clients for the live API: signed-up people with their own cookie jars, and a seeded world."""

from __future__ import annotations

import itertools
import ssl
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

PASSWORD = "correct-horse-battery"

# Made once: building a TLS context per client (httpx's default) costs ~25 ms, and the
# tests make hundreds of plain-HTTP clients.
_TLS = ssl.create_default_context()
_numbers = itertools.count(1)


def expect(response: httpx.Response, status: int, code: str | None = None) -> Any:
    """Assert the status (and the error code); return the JSON body (None when empty)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: "
        f"expected {status}, got {response.status_code} {response.text}"
    )
    if code is not None:
        assert response.json()["code"] == code, response.text
    return response.json() if response.content else None


@dataclass
class Person:
    """A signed-up user and an HTTP client that carries their session cookie."""

    id: int
    username: str
    email: str
    http: httpx.AsyncClient


class Api:
    """Makes clients and people for one live deployment; closes them all at the end."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._clients: list[httpx.AsyncClient] = []

    def client(self, **options: Any) -> httpx.AsyncClient:
        """A fresh client (its own cookie jar) for the deployment."""
        client = httpx.AsyncClient(base_url=self.base_url, timeout=30, verify=_TLS, **options)
        self._clients.append(client)
        return client

    async def person(self, name: str = "user") -> Person:
        """Sign up a new user (unique email) and keep the signed-in client."""
        number = next(_numbers)
        username = f"{name}{number}"[:24]
        email = f"{name}.{uuid.uuid4().hex[:12]}@example.com"
        http = self.client()
        body = expect(
            await http.post(
                "/api/auth/signup",
                json={"username": username, "email": email, "password": PASSWORD},
            ),
            201,
        )
        return Person(id=body["user"]["id"], username=username, email=email, http=http)

    async def aclose(self) -> None:
        """Close every client made."""
        for client in self._clients:
            await client.aclose()


@dataclass
class Place:
    """A server of the world and what is in it."""

    server_id: int
    channel_id: int
    invite_code: str
    member_message_id: int
    owner_message_id: int


@dataclass
class World:
    """One owner, admin and member of a public and a private server, and an outsider.

    The servers are built on first use: most tests need only one of them.
    """

    owner: Person
    admin: Person
    member: Person
    outsider: Person
    places: dict[str, Place] = field(default_factory=dict)

    async def place(self, visibility: str) -> Place:
        """The `public` or `private` server (created on first use)."""
        if visibility not in self.places:
            self.places[visibility] = await build_place(
                self.owner, self.admin, self.member, is_public=visibility == "public"
            )
        return self.places[visibility]

    def role(self, name: str) -> Person:
        """`owner`, `admin`, `member` or `outsider`."""
        person: Person = getattr(self, name)
        return person

    def saved(self) -> SavedWorld:
        """Ids and session cookies, to reuse the world from other tests (and event loops)."""
        return SavedWorld(
            people={
                name: (person.id, person.username, person.email, person.http.cookies["connect.sid"])
                for name in ROLES
                for person in [self.role(name)]
            },
            places=dict(self.places),
        )


ROLES = ("owner", "admin", "member", "outsider")


@dataclass(frozen=True)
class SavedWorld:
    """A world without its clients: restore it with fresh clients in any test."""

    people: dict[str, tuple[int, str, str, str]]
    places: dict[str, Place]

    def restore(self, api: Api) -> World:
        """The world again, each person with a new client carrying their session cookie."""
        people = {
            name: Person(
                id=id_,
                username=username,
                email=email,
                http=api.client(cookies={"connect.sid": cookie}),
            )
            for name, (id_, username, email, cookie) in self.people.items()
        }
        return World(**people, places=dict(self.places))


async def build_place(owner: Person, admin: Person, member: Person, *, is_public: bool) -> Place:
    """A server owned by `owner`, with `admin` (admin) and `member` in it, and two messages."""
    label = "public" if is_public else "private"
    server = expect(
        await owner.http.post(
            "/api/servers", json={"name": f"{label} place", "is_public": is_public}
        ),
        201,
    )["server"]
    server_id = server["id"]
    channels = expect(await owner.http.get(f"/api/servers/{server_id}/channels"), 200)["channels"]
    channel_id = channels[0]["id"]
    code = expect(await owner.http.post(f"/api/servers/{server_id}/invites"), 201)["code"]
    for person in (admin, member):
        expect(await person.http.post(f"/api/servers/{server_id}/join", json={"code": code}), 201)
    expect(
        await owner.http.patch(
            f"/api/servers/{server_id}/members/{admin.id}", json={"role": "admin"}
        ),
        200,
    )
    by_member = expect(
        await member.http.post(f"/api/channels/{channel_id}/messages", json={"content": "hi"}), 201
    )["message"]
    by_owner = expect(
        await owner.http.post(f"/api/channels/{channel_id}/messages", json={"content": "yo"}), 201
    )["message"]
    return Place(
        server_id=server_id,
        channel_id=channel_id,
        invite_code=code,
        member_message_id=by_member["id"],
        owner_message_id=by_owner["id"],
    )


async def build_world(api: Api) -> World:
    """Four people; their servers are made when a test asks for one."""
    return World(
        owner=await api.person("owner"),
        admin=await api.person("admin"),
        member=await api.person("member"),
        outsider=await api.person("outsider"),
    )
