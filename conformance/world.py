"""Users, servers and channels made through REST, with the memberships the observer trusts.

Every change goes through `Harness.rest_step`, so each one is also checked: its answer
against spec/openapi.yaml and its `x-emits` on the sockets in the room.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

from conformance.client import Account
from conformance.harness import Harness

PASSWORD = "conformance-horse-battery"
_counter = itertools.count(1)


@dataclass
class Place:
    """A server and its channels, as the driver made them."""

    server_id: int
    owner: Account
    channels: list[int] = field(default_factory=list)
    is_public: bool = False


class Driver:
    """Drives users through the REST API by operationId and keeps the memberships."""

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.truth = harness.observer.truth
        self.places: dict[int, Place] = {}
        self.run = uuid.uuid4().hex[:6]

    def _revoke(self, server_id: int, user_id: int | None) -> None:
        """A user (None: everyone) stops being a member: their sockets lose its rooms."""
        if user_id is None:
            self.truth.drop(server_id)
        else:
            self.truth.remove(server_id, user_id)
        self.h.observer.revoke((self.truth.entity, server_id), user_id=user_id)

    def _revoke_channel(self, channel_id: int) -> None:
        """A channel is deleted: every socket loses its room."""
        self.h.observer.revoke(("channel", channel_id))

    def _note_channel(self, server_id: int, channel_id: int) -> None:
        self.h.observer.note_parent(("channel", channel_id), ("server", server_id))
        self.h.observer.note_id("channel", channel_id)

    async def signup(self, name: str) -> Account:
        """A new user, signed in."""
        n = next(_counter)
        username = f"{name}{n}_{self.run}"[:24]
        email = f"{username.lower()}@conformance.example"
        result = await self.h.rest.call(
            "signup", json={"username": username, "email": email, "password": PASSWORD}
        )
        if result.status != 201:
            raise RuntimeError(f"signup answered {result.status}: {result.body!r}")
        cookie = result.response.cookies.get("connect.sid")
        if cookie is None:
            raise RuntimeError("signup set no connect.sid cookie")
        user = result.body["user"]
        self.h.observer.note_id("user", int(user["id"]))
        return Account(user_id=int(user["id"]), username=username, cookie=cookie, email=email)

    async def login(self, account: Account) -> Account:
        """Another session of the same user (its own cookie)."""
        result = await self.h.rest.call(
            "login", json={"email": account.email, "password": PASSWORD}
        )
        if result.status != 200:
            raise RuntimeError(f"login answered {result.status}: {result.body!r}")
        cookie = result.response.cookies.get("connect.sid")
        assert cookie is not None
        return Account(account.user_id, account.username, cookie, account.email)

    async def logout(self, account: Account) -> None:
        """End that session (its sockets must be disconnected)."""
        await self.h.rest_step(
            f"{account.username} logs out", "logout", cookie=account.cookie, expect=204
        )

    async def create_server(self, owner: Account, name: str, *, public: bool) -> Place:
        """A server owned by `owner`, with its first channel."""
        result = await self.h.rest_step(
            f"{owner.username} creates {name}",
            "create_server",
            cookie=owner.cookie,
            json={"name": name, "is_public": public},
            expect=201,
        )
        server_id = int(result.body["server"]["id"])
        self.truth.add(server_id, owner.user_id)
        place = Place(server_id=server_id, owner=owner, is_public=public)
        self.places[server_id] = place
        listed = await self.h.rest.call("list_channels", cookie=owner.cookie, serverId=server_id)
        for channel in listed.body["channels"]:
            place.channels.append(int(channel["id"]))
            self._note_channel(server_id, int(channel["id"]))
        return place

    async def create_channel(self, actor: Account, place: Place, name: str) -> int:
        """A new channel in a server."""
        result = await self.h.rest_step(
            f"{actor.username} creates #{name}",
            "create_channel",
            cookie=actor.cookie,
            json={"name": name},
            serverId=place.server_id,
            expect=201,
        )
        channel_id = int(result.body["channel"]["id"])
        place.channels.append(channel_id)
        self._note_channel(place.server_id, channel_id)
        return channel_id

    async def rename_channel(self, actor: Account, channel_id: int, name: str) -> None:
        """Rename a channel."""
        await self.h.rest_step(
            f"{actor.username} renames channel {channel_id}",
            "update_channel",
            cookie=actor.cookie,
            json={"name": name},
            channelId=channel_id,
            expect=200,
        )

    async def delete_channel(self, actor: Account, place: Place, channel_id: int) -> None:
        """Delete a channel."""
        await self.h.rest_step(
            f"{actor.username} deletes channel {channel_id}",
            "delete_channel",
            cookie=actor.cookie,
            channelId=channel_id,
            expect=204,
            before=lambda: self._revoke_channel(channel_id),
        )
        place.channels.remove(channel_id)

    async def rename_server(self, actor: Account, place: Place, name: str) -> None:
        """Rename a server."""
        await self.h.rest_step(
            f"{actor.username} renames server {place.server_id}",
            "update_server",
            cookie=actor.cookie,
            json={"name": name},
            serverId=place.server_id,
            expect=200,
        )

    async def delete_server(self, actor: Account, place: Place) -> None:
        """Delete a server (no one is a member any more)."""
        members = set(self.truth.members.get(place.server_id, set()))

        def undo() -> None:
            self.truth.members[place.server_id] = members

        await self.h.rest_step(
            f"{actor.username} deletes server {place.server_id}",
            "delete_server",
            cookie=actor.cookie,
            serverId=place.server_id,
            expect=204,
            before=lambda: self._revoke(place.server_id, None),
            undo=undo,
        )
        self.places.pop(place.server_id, None)

    async def invite(self, actor: Account, place: Place) -> str:
        """An invite code for a server."""
        result = await self.h.rest_step(
            f"{actor.username} invites to {place.server_id}",
            "create_invite",
            cookie=actor.cookie,
            json={},
            serverId=place.server_id,
            expect=201,
        )
        return str(result.body["code"])

    async def join(self, account: Account, place: Place, code: str | None = None) -> None:
        """Join a server (public, or with an invite code)."""
        result = await self.h.rest_step(
            f"{account.username} joins {place.server_id}",
            "join_server",
            cookie=account.cookie,
            json={"code": code} if code is not None else {},
            serverId=place.server_id,
            expect=201,
        )
        if result.ok:
            self.truth.add(place.server_id, account.user_id)

    async def accept(self, account: Account, code: str, place: Place) -> None:
        """Join a server by accepting an invite."""
        result = await self.h.rest_step(
            f"{account.username} accepts an invite",
            "accept_invite",
            cookie=account.cookie,
            json={"code": code},
            expect=201,
        )
        if result.ok:
            self.truth.add(place.server_id, account.user_id)

    async def leave(self, account: Account, place: Place) -> None:
        """Leave a server."""
        await self.h.rest_step(
            f"{account.username} leaves {place.server_id}",
            "leave_server",
            cookie=account.cookie,
            serverId=place.server_id,
            expect=204,
            before=lambda: self._revoke(place.server_id, account.user_id),
            undo=lambda: self.truth.add(place.server_id, account.user_id),
        )

    async def kick(self, actor: Account, place: Place, account: Account) -> None:
        """Remove a member."""
        await self.h.rest_step(
            f"{actor.username} kicks {account.username} from {place.server_id}",
            "kick_member",
            cookie=actor.cookie,
            serverId=place.server_id,
            userId=account.user_id,
            expect=204,
            before=lambda: self._revoke(place.server_id, account.user_id),
            undo=lambda: self.truth.add(place.server_id, account.user_id),
        )

    async def set_role(self, actor: Account, place: Place, account: Account, role: str) -> None:
        """Change a member's role."""
        await self.h.rest_step(
            f"{actor.username} makes {account.username} {role}",
            "update_member",
            cookie=actor.cookie,
            json={"role": role},
            serverId=place.server_id,
            userId=account.user_id,
            expect=200,
        )

    async def post(self, account: Account, channel_id: int, content: str) -> int:
        """A message through REST; its id."""
        result = await self.h.rest_step(
            f"{account.username} posts in {channel_id}",
            "create_message",
            cookie=account.cookie,
            json={"content": content},
            channelId=channel_id,
            expect=201,
        )
        return int(result.body["message"]["id"]) if result.ok else 0

    async def edit(self, account: Account, channel_id: int, message_id: int, content: str) -> None:
        """Edit a message through REST."""
        await self.h.rest_step(
            f"{account.username} edits {message_id}",
            "update_message",
            cookie=account.cookie,
            json={"content": content},
            channelId=channel_id,
            messageId=message_id,
            expect=200,
        )

    async def delete_message(self, account: Account, channel_id: int, message_id: int) -> None:
        """Delete a message through REST."""
        await self.h.rest_step(
            f"{account.username} deletes {message_id}",
            "delete_message",
            cookie=account.cookie,
            channelId=channel_id,
            messageId=message_id,
            expect=204,
        )

    async def history(self, account: Account, channel_id: int) -> list[dict[str, object]]:
        """Every message of a channel, through REST history pages."""
        out: list[dict[str, object]] = []
        before: int | None = None
        for _ in range(1000):
            params: dict[str, object] = {"limit": 100}
            if before is not None:
                params["before"] = before
            page = await self.h.rest.call(
                "list_messages", cookie=account.cookie, params=params, channelId=channel_id
            )
            if page.status != 200:
                raise RuntimeError(f"list_messages answered {page.status}: {page.body!r}")
            out = list(page.body["messages"]) + out
            before = page.body.get("next_before")
            if before is None:
                break
        return out
