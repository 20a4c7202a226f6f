"""UTC timestamps with millisecond precision, stored and shown the same way everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def truncate_to_ms(value: datetime) -> datetime:
    """Drop the sub-millisecond part (the wire format has milliseconds)."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to milliseconds."""
    return truncate_to_ms(datetime.now(UTC))


def to_wire_timestamp(value: datetime) -> str:
    """Format as RFC 3339 UTC with milliseconds and `Z`: `2026-02-02T12:00:00.000Z`."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
    # isoformat is C code; the strftime format it replaced was 2% of a message's CPU.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that only accepts aware datetimes and always returns UTC ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC with millisecond precision; SQLite stores it naive."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        utc = truncate_to_ms(value.astimezone(UTC))
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend handed back."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
