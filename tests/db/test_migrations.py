"""Migrations create the whole schema on SQLite and PostgreSQL, idempotently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from service.db.engine import create_engine_for_url
from service.db.migrate import (
    current_revision,
    downgrade_url,
    head_revision,
    upgrade,
    upgrade_database,
    upgrade_url,
)
from service.db.tables import metadata
from service.settings import Settings

pytestmark = pytest.mark.anyio

TABLES = {"users", "servers", "memberships", "channels", "messages", "invites", "sessions"}


def _schema(connection: Connection) -> dict[str, Any]:
    """Tables, indexes, unique constraints and foreign keys, as the database reports them."""
    inspector = inspect(connection)
    tables = set(inspector.get_table_names()) - {"alembic_version", "sqlite_sequence"}
    return {
        "tables": tables,
        "indexes": {
            (table, index["name"], tuple(index["column_names"]), bool(index["unique"]))
            for table in tables
            for index in inspector.get_indexes(table)
        },
        "uniques": {
            (table, tuple(unique["column_names"]))
            for table in tables
            for unique in inspector.get_unique_constraints(table)
        },
        "foreign_keys": {
            (
                table,
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                (fk.get("options") or {}).get("ondelete"),
            )
            for table in tables
            for fk in inspector.get_foreign_keys(table)
        },
    }


async def _read_schema(url: str) -> dict[str, Any]:
    """Inspect the database at `url`."""
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema)
    finally:
        await engine.dispose()


async def test_upgrade_creates_every_table_with_indexes_uniques_and_cascades(
    empty_database_url: str,
) -> None:
    assert await current_revision(empty_database_url) is None

    await upgrade_url(empty_database_url)

    schema = await _read_schema(empty_database_url)
    assert schema["tables"] == TABLES
    indexes = {(table, name, columns, unique) for table, name, columns, unique in schema["indexes"]}
    assert ("messages", "ix_messages_channel_id_id", ("channel_id", "id"), False) in indexes
    # A server's member ids from the index alone (migration 0002 replaced the server_id one).
    members = ("memberships", "ix_memberships_server_id_user_id", ("server_id", "user_id"), False)
    assert members in indexes
    assert not any(name == "ix_memberships_server_id" for _, name, _, _ in indexes)
    assert ("memberships", "ux_memberships_server_id_owner", ("server_id",), True) in indexes
    assert ("sessions", "ix_sessions_user_id", ("user_id",), False) in indexes
    assert ("invites", "ix_invites_server_id", ("server_id",), False) in indexes
    assert {
        ("users", ("email",)),
        ("memberships", ("user_id", "server_id")),
        ("channels", ("server_id", "name")),
    } <= schema["uniques"]
    cascades = {(t, cols, ref) for t, cols, ref, ondelete in schema["foreign_keys"] if ondelete}
    assert {
        ("memberships", ("server_id",), "servers"),
        ("memberships", ("user_id",), "users"),
        ("channels", ("server_id",), "servers"),
        ("messages", ("channel_id",), "channels"),
        ("messages", ("user_id",), "users"),
        ("invites", ("server_id",), "servers"),
        ("sessions", ("user_id",), "users"),
    } <= cascades
    assert await current_revision(empty_database_url) == head_revision()


async def test_upgrade_twice_is_a_no_op_that_keeps_the_data(empty_database_url: str) -> None:
    await upgrade_url(empty_database_url)
    engine = create_engine_for_url(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (username, email, password_hash, created_at) "
                    "VALUES ('ann', 'ann@example.test', 'h', CURRENT_TIMESTAMP)"
                )
            )

        await upgrade_url(empty_database_url)

        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM users"))).scalar_one()
    finally:
        await engine.dispose()
    assert count == 1
    assert await current_revision(empty_database_url) == head_revision()


async def test_migrated_schema_matches_the_table_models(empty_database_url: str) -> None:
    await upgrade_url(empty_database_url)
    engine = create_engine_for_url(empty_database_url)

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_downgrade_to_base_drops_everything_and_upgrade_restores_it(
    empty_database_url: str,
) -> None:
    await upgrade_url(empty_database_url)

    await downgrade_url(empty_database_url, "base")
    assert (await _read_schema(empty_database_url))["tables"] == set()
    assert await current_revision(empty_database_url) is None

    await upgrade_url(empty_database_url)
    assert (await _read_schema(empty_database_url))["tables"] == TABLES


async def test_upgrade_with_default_settings_creates_the_embedded_sqlite_file(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=None)

    await upgrade(settings)

    assert (tmp_path / "data" / "zizany.db").is_file()
    assert await current_revision(settings.effective_database_url) == head_revision()


def test_upgrade_database_is_callable_without_an_event_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"

    upgrade_database(url)
    upgrade_database(url)

    assert (tmp_path / "cli.db").is_file()
