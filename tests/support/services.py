"""This machine's PostgreSQL and Redis, and whether a test must find them (CI=true).

`need` skips a test whose service or tool is missing, or fails it when CI=true. The
PostgreSQL helpers make and drop uniquely named databases (127.0.0.1:5432, user postgres,
trust auth; ZIZANY_TEST_POSTGRES_* to change); the Redis ones hand out key prefixes no
other test uses and delete them after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import redis as sync_redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service.db.migrate import upgrade_url

T = TypeVar("T")

REQUIRE_SERVICES = os.environ.get("CI", "").lower() == "true"

POSTGRES_HOST = os.environ.get("ZIZANY_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("ZIZANY_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("ZIZANY_TEST_POSTGRES_USER", "postgres")

REDIS_URL = os.environ.get("ZIZANY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# The database backends a test runs on (PostgreSQL marked, so `-m "not postgres"` works).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def need(condition: bool, reason: str) -> None:
    """Skip when a local service or tool is missing; fail instead when CI=true."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


def run_in_fresh_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on its own loop in a worker thread (from sync fixtures)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def postgres_url(database: str) -> str:
    """The SQLAlchemy URL of a database on the test PostgreSQL server."""
    return f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"


async def postgres_admin(sql: str) -> None:
    """Run one statement on the server's `postgres` database (CREATE/DROP DATABASE)."""
    engine = create_async_engine(
        postgres_url("postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": 5},
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


def create_postgres_database() -> str:
    """Create a uniquely named empty database; returns its name."""
    name = f"zizany_test_{uuid.uuid4().hex[:12]}"
    run_in_fresh_loop(postgres_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_postgres_database(name: str) -> None:
    """Drop a test database, disconnecting whoever is still on it."""
    run_in_fresh_loop(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def new_postgres_database() -> str:
    """A fresh, migrated PostgreSQL database (skip locally, fail with CI=true, if unreachable)."""
    try:
        name = create_postgres_database()
    except Exception as exc:  # OSError, TimeoutError or one of asyncpg's own
        need(False, f"PostgreSQL unreachable: {exc!r}")
        raise
    run_in_fresh_loop(upgrade_url(postgres_url(name)))
    return name


@contextlib.contextmanager
def database_overrides(backend: str) -> Iterator[dict[str, Any]]:
    """Settings overrides for the backend: a fresh migrated PostgreSQL database for
    "postgres" (dropped afterwards), none for the default SQLite file."""
    if backend != "postgres":
        yield {}
        return
    name = new_postgres_database()
    try:
        yield {"database_url": postgres_url(name)}
    finally:
        drop_postgres_database(name)


def new_prefix() -> str:
    """A Redis key prefix no other test (or run) uses."""
    return f"zizany-test-{uuid.uuid4().hex[:12]}"


def redis_answers(url: str = REDIS_URL) -> bool:
    """Whether the Redis at `url` answers a PING right now."""
    client = sync_redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except sync_redis.RedisError:
        return False
    finally:
        client.close()


def redis_available() -> None:
    """Skip (fail with CI=true) unless the test Redis answers."""
    need(redis_answers(), f"Redis at {REDIS_URL} unavailable")


def delete_redis_prefix(prefix: str) -> None:
    """Delete the keys of a prefix (Redis may be down: then there is nothing to delete)."""
    client = sync_redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    except sync_redis.RedisError:
        pass
    finally:
        client.close()
