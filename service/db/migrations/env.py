"""Alembic environment: migrates on a connection handed over by `service.db.migrate`.

Run through Alembic's own command line it opens an async engine for the configured
`sqlalchemy.url` instead. Batch mode is on for SQLite, whose ALTER TABLE is limited.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from service.db.engine import create_engine_for_url
from service.db.tables import metadata

config = context.config


def run_on_connection(connection: Connection) -> None:
    """Run the pending migrations on an open connection."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    """Open an engine for `url` (foreign keys off on SQLite, as batch mode needs) and migrate."""
    engine = create_engine_for_url(url, foreign_keys=False, transactional_ddl=True)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on_connection)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    """Emit the SQL instead of running it (`alembic upgrade --sql`)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Pick the mode Alembic was invoked in."""
    if context.is_offline_mode():
        run_offline()
        return
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        run_on_connection(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no sqlalchemy.url configured and no connection given")
    asyncio.run(run_with_own_engine(url))


main()
