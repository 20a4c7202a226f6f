"""Timestamps: aware UTC, millisecond precision, one wire format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.messages import create_message, get_message
from service.db.timestamps import to_wire_timestamp, truncate_to_ms, utcnow
from tests.support.factories import general_channel_id, make_server, make_user


def test_to_wire_timestamp_has_milliseconds_and_z() -> None:
    value = datetime(2026, 2, 2, 12, 0, 0, 123999, tzinfo=UTC)

    assert to_wire_timestamp(value) == "2026-02-02T12:00:00.123Z"
    assert to_wire_timestamp(value.replace(microsecond=0)) == "2026-02-02T12:00:00.000Z"


def test_to_wire_timestamp_converts_other_zones_to_utc() -> None:
    value = datetime(2026, 2, 2, 13, 30, tzinfo=timezone(timedelta(hours=1, minutes=30)))

    assert to_wire_timestamp(value) == "2026-02-02T12:00:00.000Z"


def test_to_wire_timestamp_always_has_a_four_digit_year() -> None:
    # RFC 3339's date-fullyear is 4DIGIT; glibc's strftime %Y writes year 5 as "5".
    assert to_wire_timestamp(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000Z"


def test_to_wire_timestamp_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_wire_timestamp(datetime(2026, 2, 2, 12, 0))


def test_utcnow_is_aware_utc_truncated_to_milliseconds() -> None:
    now = utcnow()

    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0
    assert truncate_to_ms(now) == now


@pytest.mark.anyio
async def test_stored_timestamps_come_back_aware_utc_truncated_to_milliseconds(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    written = datetime(2026, 2, 2, 14, 0, 0, 987654, tzinfo=timezone(timedelta(hours=2)))
    async with sessionmaker() as session:
        user = await make_user(session)
        server = await make_server(session, user)
        general = await general_channel_id(session, server.id)
        message = await create_message(
            session=session, channel_id=general, user_id=user.id, content="hi", now=written
        )
        await session.commit()
        message_id = message.id

    async with sessionmaker() as session:
        stored = await get_message(session=session, message_id=message_id)

    assert stored is not None
    assert stored.created_at == datetime(2026, 2, 2, 12, 0, 0, 987000, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)
    assert to_wire_timestamp(stored.created_at) == "2026-02-02T12:00:00.987Z"
    assert to_wire_timestamp(stored.created_at) == to_wire_timestamp(written)
