"""The seeded world: who is who in the bench's database, and `seed`, which writes it.

The ids are assigned here, the same for every backend and every server instance: users
with a session cookie each, the fan-out server (the sender and up to the largest room of
receivers, a channel per room size), the `message:create` servers (channels of 10
members), the servers of the connection scenarios (50 members, one channel each) and a
history channel of `history_rows` messages inserted in one statement.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from bench.params import Params
from service.auth.logins import sign_login_id
from service.db.engine import create_engine_for_url
from service.db.migrate import upgrade_url
from service.db.tables import ChannelRow, MembershipRow, ServerRow, SessionRow, UserRow

SECRET = "bench-secret-" + "k" * 40


@dataclass
class World:
    """Who is who in the seeded database (ids are assigned here, the same for both servers)."""

    cookies: dict[int, str] = field(default_factory=dict)
    fan_sender: int = 1
    fan_receivers: list[int] = field(default_factory=list)
    fan_channel: dict[int, int] = field(default_factory=dict)  # room size -> channel id
    create_members: dict[int, list[int]] = field(default_factory=dict)  # channel -> users
    conn_users: list[int] = field(default_factory=list)
    conn_server_of: dict[int, tuple[int, int]] = field(default_factory=dict)  # user -> ids
    history_channel: int = 0
    history_user: int = 1
    cluster_channel: int = 0


async def seed(url: str, params: Params) -> World:
    """Migrate `url` with Zizany's migrations and insert the bench's users, servers, rooms."""
    await upgrade_url(url)
    world = World()
    now = datetime.now(UTC)
    users: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    servers: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    next_user = 1
    next_server = 1
    next_channel = 1

    def new_user() -> int:
        nonlocal next_user
        uid = next_user
        next_user += 1
        users.append(
            {
                "id": uid,
                "username": f"u{uid}",
                "email": f"u{uid}@bench.invalid",
                "password_hash": "-",
                "created_at": now,
            }
        )
        token = secrets.token_urlsafe(32)
        # Expiry a little beyond now + TTL: no rolling refresh writes during the run.
        sessions.append(
            {
                "id": hashlib.sha256(token.encode()).hexdigest(),
                "user_id": uid,
                "created_at": now,
                "expires_at": now + timedelta(days=1, hours=2),
                "ttl_seconds": 86400,
            }
        )
        world.cookies[uid] = sign_login_id(SECRET, token)
        return uid

    def new_server(owner: int, member_ids: Sequence[int]) -> int:
        nonlocal next_server
        sid = next_server
        next_server += 1
        servers.append(
            {"id": sid, "name": f"s{sid}", "owner_id": owner, "created_at": now, "updated_at": now}
        )
        for uid in member_ids:
            role = "owner" if uid == owner else "member"
            members.append({"user_id": uid, "server_id": sid, "role": role, "joined_at": now})
        return sid

    def new_channel(server_id: int) -> int:
        nonlocal next_channel
        cid = next_channel
        next_channel += 1
        channels.append(
            {
                "id": cid,
                "server_id": server_id,
                "name": f"c{cid}",
                "created_at": now,
                "updated_at": now,
            }
        )
        return cid

    # Fan-out: one server, the sender and up to 1000 receivers; a channel per room size.
    world.fan_sender = new_user()
    world.fan_receivers = [new_user() for _ in range(max(params.room_sizes))]
    fan_server = new_server(world.fan_sender, [world.fan_sender, *world.fan_receivers])
    for size in params.room_sizes:
        world.fan_channel[size] = new_channel(fan_server)
    world.history_user = world.fan_sender
    world.history_channel = new_channel(fan_server)
    world.cluster_channel = new_channel(fan_server)  # two processes on Redis
    # message:create: servers of 100 members, 10 channels each, 10 members per channel room.
    per_server = 10
    for _ in range(params.create_channels // per_server):
        group = [new_user() for _ in range(per_server * params.create_members)]
        sid = new_server(group[0], group)
        for i in range(per_server):
            cid = new_channel(sid)
            world.create_members[cid] = group[
                i * params.create_members : (i + 1) * params.create_members
            ]
    # Connections (and the memory probe): servers of 50 members with one channel each.
    total = max([*params.connections, params.memory_sockets])
    for start in range(0, total, 50):
        group = [new_user() for _ in range(min(50, total - start))]
        sid = new_server(group[0], group)
        cid = new_channel(sid)
        for uid in group:
            world.conn_server_of[uid] = (sid, cid)
        world.conn_users.extend(group)

    engine = create_engine_for_url(url)
    try:
        async with engine.begin() as conn:
            tables: list[tuple[Any, list[dict[str, Any]]]] = [
                (UserRow, users),
                (SessionRow, sessions),
                (ServerRow, servers),
                (MembershipRow, members),
                (ChannelRow, channels),
            ]
            for model, rows in tables:
                for i in range(0, len(rows), 2000):
                    await conn.execute(insert(model.__table__), rows[i : i + 2000])
            # History: one bulk statement, not the API.
            stamp = now.replace(tzinfo=None) if url.startswith("sqlite") else now
            if url.startswith("sqlite"):
                sql = (
                    "WITH RECURSIVE n(x) AS "
                    "(SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :rows) "
                    "INSERT INTO messages (channel_id, user_id, content, created_at, updated_at) "
                    "SELECT :channel, :user, 'history message ' || x, :at, :at FROM n"
                )
            else:
                sql = (
                    "INSERT INTO messages (channel_id, user_id, content, created_at, updated_at) "
                    "SELECT :channel, :user, 'history message ' || x, :at, :at "
                    "FROM generate_series(1, :rows) AS x"
                )
            await conn.execute(
                text(sql),
                {
                    "rows": params.history_rows,
                    "channel": world.history_channel,
                    "user": world.history_user,
                    "at": stamp,
                },
            )
            if not url.startswith("sqlite"):
                # Explicit ids were inserted: move the sequences past them.
                for name in ("users", "servers", "channels"):
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
                await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return world
