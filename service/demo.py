"""A small demo data set, so a client developer can sign in and see something at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.passwords import Passwords
from service.db import channels, memberships, messages, servers, users
from service.db.engine import session_scope
from service.db.tables import Role
from service.db.timestamps import utcnow

DEMO_PASSWORD = "zizany-demo"


@dataclass(frozen=True, slots=True)
class DemoUser:
    """One demo account."""

    username: str
    email: str


DEMO_USERS = (
    DemoUser("Sara", "sara@example.com"),
    DemoUser("omar_k", "omar@example.com"),
    DemoUser("lena", "lena@example.com"),
)


@dataclass(frozen=True, slots=True)
class DemoServer:
    """One demo server: its members (besides the owner), channels and opening conversation."""

    name: str
    is_public: bool
    owner: str
    members: dict[str, Role]
    channels: tuple[str, ...]
    conversation: tuple[tuple[str, str], ...]


DEMO_SERVERS = (
    DemoServer(
        name="Zizany fans",
        is_public=True,
        owner="Sara",
        members={"omar_k": "admin", "lena": "member"},
        channels=("random", "dev"),
        conversation=(
            ("Sara", "Welcome to Zizany fans!"),
            ("omar_k", "Hi everyone"),
            ("lena", "Hello! Is the socket API documented?"),
            ("Sara", "Yes: /asyncapi.yaml, and the REST API at /docs."),
            ("omar_k", "History loads with ?before= and catches up with ?after="),
        ),
    ),
    DemoServer(
        name="Core team",
        is_public=False,
        owner="omar_k",
        members={"Sara": "admin"},
        channels=("planning",),
        conversation=(
            ("omar_k", "Private server: only members can see it."),
            ("Sara", "Invite only."),
        ),
    ),
    DemoServer(
        name="Open lounge",
        is_public=True,
        owner="lena",
        members={},
        channels=(),
        conversation=(("lena", "Anyone can join this one."),),
    ),
)


async def demo_loaded(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """Whether the demo accounts exist already."""
    async with sessionmaker() as session:
        return await users.get_user_by_email(session=session, email=DEMO_USERS[0].email) is not None


async def load_demo(
    sessionmaker: async_sessionmaker[AsyncSession], passwords: Passwords
) -> list[DemoUser]:
    """Create the demo users, servers, channels and history in one transaction."""
    password_hash = await passwords.hash_password(DEMO_PASSWORD)
    async with session_scope(sessionmaker) as session:
        ids: dict[str, int] = {}
        for demo in DEMO_USERS:
            row = await users.create_user(
                session=session,
                username=demo.username,
                email=demo.email,
                password_hash=password_hash,
            )
            ids[demo.username] = row.id
        start = utcnow() - timedelta(hours=1)
        for demo_server in DEMO_SERVERS:
            await _load_server(session, demo_server, ids=ids, start=start)
    return list(DEMO_USERS)


async def _load_server(
    session: AsyncSession, demo: DemoServer, *, ids: dict[str, int], start: datetime
) -> None:
    """One demo server with its members, channels and conversation in `general`."""
    server = await servers.create_server(
        session=session,
        owner_id=ids[demo.owner],
        fields=servers.ServerFields(name=demo.name, is_public=demo.is_public),
        now=start,
    )
    for username, role in demo.members.items():
        await memberships.add_member(
            session=session, server_id=server.id, user_id=ids[username], role=role, now=start
        )
    for name in demo.channels:
        await channels.create_channel(session=session, server_id=server.id, name=name, now=start)
    general, *_others = await channels.list_channels(session=session, server_id=server.id)
    for minute, (author, content) in enumerate(demo.conversation, start=1):
        await messages.create_message(
            session=session,
            channel_id=general.id,
            user_id=ids[author],
            content=content,
            now=start + timedelta(minutes=minute),
        )
