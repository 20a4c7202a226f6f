"""Schema migrations (Alembic, configured in code): what `zizany db upgrade` and `serve` call."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.contract import package_dir
from service.db.engine import create_engine_for_url
from service.settings import Settings

log = logging.getLogger("zizany.db")

# Package data (importlib.resources): the same in a checkout and an installed wheel.
MIGRATIONS_DIR = package_dir("service.db.migrations")

# Serialises concurrent upgrades (several `zizany serve` starting at once) on PostgreSQL.
_ADVISORY_LOCK_KEY = 0x7A697A616E79  # "zizany"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at our migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates `%`, which URL-encoded passwords contain.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision in the migrations directory."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {str(MIGRATIONS_DIR)!r}")
    return head


async def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the configured database up to `revision` (idempotent)."""
    await upgrade_url(settings.effective_database_url, revision)


async def upgrade_url(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` in one transaction (idempotent)."""
    await _run_command(url, "upgrade", revision)


async def downgrade_url(url: str, revision: str) -> None:
    """Take the database at `url` down to `revision` (`base` drops everything)."""
    await _run_command(url, "downgrade", revision)


def upgrade_database(url: str, revision: str = "head") -> None:
    """Synchronous `upgrade_url` for the command line; must not run inside an event loop."""
    asyncio.run(upgrade_url(url, revision))


async def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at, or None when it was never migrated."""
    engine = create_engine_for_url(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


class SchemaNotCurrent(RuntimeError):
    """The configured database is not at the revision this server needs."""


def schema_problem(current: str | None) -> str | None:
    """What is wrong with a database at revision `current`, or None when it is current."""
    head = head_revision()
    if current == head:
        return None
    found = f"revision {current}" if current is not None else "no revision (never migrated)"
    return f"database schema is at {found}, this server needs {head}: run `zizany db upgrade`"


async def engine_schema_problem(engine: AsyncEngine) -> str | None:
    """`schema_problem` of the database behind `engine` (one small query, no log lines)."""
    async with engine.connect() as connection:
        try:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no such table: never migrated
            return schema_problem(None)
        versions = result.scalars().all()
    return schema_problem(versions[0] if len(versions) == 1 else None)


async def prepare_schema(settings: Settings) -> None:
    """Before serving: migrate the embedded database; refuse a configured one that is not
    current (it is migrated once per release, by `zizany db upgrade`). A database that
    cannot be reached is not refused: the server starts and its health says so.

    Raises SchemaNotCurrent with the revision found, the one needed and the command.
    """
    if settings.database_url is None:
        await upgrade(settings)
        return
    url = settings.effective_database_url
    where = make_url(url).render_as_string(hide_password=True)
    try:
        current = await current_revision(url)
    except (OSError, DBAPIError) as exc:
        # Unreachable is not "not migrated": serve, and let /api/health say it is down.
        log.warning("database at %s unreachable at start-up (%s): schema not checked", where, exc)
        return
    problem = schema_problem(current)
    if problem is not None:
        message = f"not starting: the {problem} (database at {where})"
        log.error("%s", message)
        raise SchemaNotCurrent(message)


async def _run_command(url: str, action: Literal["upgrade", "downgrade"], revision: str) -> None:
    """Run an Alembic command on our own connection, inside one transaction."""
    # Foreign keys stay off on SQLite while migrating: batch mode rebuilds tables, and
    # dropping the old copy with cascades on would delete the rows that point at it.
    engine = create_engine_for_url(url, foreign_keys=False, transactional_ddl=True)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
            await connection.run_sync(_run_alembic, url, action, revision)
            if connection.dialect.name == "sqlite":
                problems = (await connection.execute(text("PRAGMA foreign_key_check"))).all()
                if problems:
                    raise RuntimeError(f"migration left dangling foreign keys: {problems!r}")
    finally:
        await engine.dispose()


def _run_alembic(
    connection: Connection, url: str, action: Literal["upgrade", "downgrade"], revision: str
) -> None:
    """Hand the connection to env.py and run the command."""
    config = alembic_config(url)
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)
