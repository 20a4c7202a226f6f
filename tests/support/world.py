"""A world built over REST on a live deployment: people, their servers, their messages.

`build_world` signs up an owner, an admin, a member and an outsider; `World.place` makes
a public or a private server of theirs on first use. `server_with` makes a plain server
with members; `Poster` and `stored_ids` write and read a channel's history.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from tests.support.clients import Api, Person, expect


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
    server_id, channel_id, code = await new_server(
        owner, admin, member, name=f"{label} place", is_public=is_public
    )
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


async def new_server(
    owner: Person, *members: Person, name: str = "shared", is_public: bool = False
) -> tuple[int, int, str]:
    """A server of `owner` with `members` joined by invite: its id, general channel, invite."""
    server_id = expect(
        await owner.http.post("/api/servers", json={"name": name, "is_public": is_public}), 201
    )["server"]["id"]
    channels = expect(await owner.http.get(f"/api/servers/{server_id}/channels"), 200)
    code = expect(await owner.http.post(f"/api/servers/{server_id}/invites"), 201)["code"]
    for member in members:
        expect(await member.http.post(f"/api/servers/{server_id}/join", json={"code": code}), 201)
    return server_id, channels["channels"][0]["id"], code


async def server_with(owner: Person, *members: Person) -> tuple[int, int]:
    """A private server of `owner` with `members` joined; its id and general channel."""
    server_id, channel_id, _ = await new_server(owner, *members)
    return server_id, channel_id


class Poster:
    """Posts numbered messages over REST, retrying while the server is away."""

    def __init__(self, person: Person, channel_id: int) -> None:
        self.person = person
        self.path = f"/api/channels/{channel_id}/messages"
        self.count = 0

    async def post(self) -> int | None:
        """One message's id; None when the server did not take it (it may be restarting)."""
        self.count += 1
        try:
            response = await self.person.http.post(self.path, json={"content": f"m{self.count}"})
        except httpx.HTTPError:
            return None
        if response.status_code == 503:
            return None
        return int(expect(response, 201)["message"]["id"])

    async def keep_posting(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await self.post() is None:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.02)


async def stored_ids(person: Person, channel_id: int) -> list[int]:
    """Every message id of the channel, oldest first, from the REST history."""
    path = f"/api/channels/{channel_id}/messages"
    ids: list[int] = []
    params = {"limit": "100"}
    while True:
        page = expect(await person.http.get(path, params=params), 200)
        ids = [m["id"] for m in page["messages"]] + ids
        if page["next_before"] is None:
            return ids
        params = {"limit": "100", "before": str(page["next_before"])}
