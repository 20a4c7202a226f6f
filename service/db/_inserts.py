"""INSERTs: a row flushed to get its generated fields, and ON CONFLICT DO NOTHING for the
two supported backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.tables import TableBase

RowT = TypeVar("RowT", bound=TableBase)


async def insert_unless_conflict(
    *, session: AsyncSession, row: RowT, conflict_columns: Sequence[str]
) -> RowT | None:
    """Insert `row`; return the stored row, or None when it collides on `conflict_columns`."""
    # Unlike catching IntegrityError this needs no savepoint and leaves the caller's
    # transaction usable, and it is race-free: the database decides, not a prior SELECT.
    model = type(row)
    mapper = inspect(model)
    values = {
        attr.key: getattr(row, attr.key)
        for attr in mapper.column_attrs
        if not (attr.columns[0].primary_key and getattr(row, attr.key) is None)
    }
    dialect = session.get_bind().dialect.name
    columns = list(conflict_columns)
    if dialect == "postgresql":
        pg_stmt = (
            postgresql_insert(model).values(values).on_conflict_do_nothing(index_elements=columns)
        )
        result = await session.scalars(pg_stmt.returning(model))
    elif dialect == "sqlite":
        lite_stmt = (
            sqlite_insert(model).values(values).on_conflict_do_nothing(index_elements=columns)
        )
        result = await session.scalars(lite_stmt.returning(model))
    else:
        raise NotImplementedError(f"unsupported database dialect {dialect!r}")
    return result.one_or_none()


async def inserted(session: AsyncSession, row: RowT) -> RowT:
    """Add `row` and flush it: it comes back with its id and defaults (not committed)."""
    session.add(row)
    await session.flush()
    return row
