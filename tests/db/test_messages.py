"""Messages: create, edit, delete, and history by id cursor in both directions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.channels import create_channel
from service.db.messages import (
    MessagePage,
    create_message,
    delete_message,
    get_authored_message,
    get_message,
    list_messages_after,
    list_messages_before,
    update_message,
)
from service.errors import MessageNotFound
from tests.support.factories import general_channel_id, make_server, make_user

pytestmark = pytest.mark.anyio


async def _channel_with_messages(session: AsyncSession, count: int) -> tuple[int, list[int]]:
    """A channel holding `count` messages (and a neighbour channel with noise); their ids."""
    author = await make_user(session, "sara")
    server = await make_server(session, author)
    channel_id = await general_channel_id(session, server.id)
    noise = await create_channel(session=session, server_id=server.id, name="noise")
    ids = []
    for n in range(count):
        message = await create_message(
            session=session, channel_id=channel_id, user_id=author.id, content=f"m{n}"
        )
        await create_message(session=session, channel_id=noise.id, user_id=author.id, content="x")
        ids.append(message.id)
    return channel_id, ids


def _ids(page: MessagePage) -> list[int]:
    """The message ids of a page, in page order."""
    return [item.message.id for item in page.messages]


async def test_pages_before_walk_back_from_the_newest_oldest_first_in_each_page(
    session: AsyncSession,
) -> None:
    channel_id, ids = await _channel_with_messages(session, 7)

    newest = await list_messages_before(
        session=session, channel_id=channel_id, before=None, limit=3
    )
    middle = await list_messages_before(
        session=session, channel_id=channel_id, before=newest.next_cursor, limit=3
    )
    oldest = await list_messages_before(
        session=session, channel_id=channel_id, before=middle.next_cursor, limit=3
    )

    assert (_ids(newest), newest.next_cursor) == (ids[4:7], ids[4])
    assert (_ids(middle), middle.next_cursor) == (ids[1:4], ids[1])
    assert (_ids(oldest), oldest.next_cursor) == (ids[0:1], None)
    assert [item.username for item in newest.messages] == ["sara"] * 3
    assert [item.message.content for item in newest.messages] == ["m4", "m5", "m6"]


async def test_a_page_ending_exactly_at_the_first_message_has_no_next_cursor(
    session: AsyncSession,
) -> None:
    channel_id, ids = await _channel_with_messages(session, 6)

    first = await list_messages_before(session=session, channel_id=channel_id, before=None, limit=3)
    second = await list_messages_before(
        session=session, channel_id=channel_id, before=first.next_cursor, limit=3
    )

    assert (_ids(first), first.next_cursor) == (ids[3:6], ids[3])
    assert (_ids(second), second.next_cursor) == (ids[0:3], None)


async def test_before_excludes_the_cursor_itself_and_an_empty_channel_gives_an_empty_page(
    session: AsyncSession,
) -> None:
    channel_id, ids = await _channel_with_messages(session, 3)
    owner = await make_user(session)
    empty = await general_channel_id(session, (await make_server(session, owner)).id)

    page = await list_messages_before(
        session=session, channel_id=channel_id, before=ids[1], limit=50
    )
    none_older = await list_messages_before(
        session=session, channel_id=channel_id, before=ids[0], limit=50
    )
    nothing = await list_messages_before(session=session, channel_id=empty, before=None, limit=50)

    assert (_ids(page), page.next_cursor) == ([ids[0]], None)
    assert (_ids(none_older), none_older.next_cursor) == ([], None)
    assert (_ids(nothing), nothing.next_cursor) == ([], None)


async def test_pages_after_walk_forward_until_the_newest_message(session: AsyncSession) -> None:
    channel_id, ids = await _channel_with_messages(session, 5)

    first = await list_messages_after(session=session, channel_id=channel_id, after=0, limit=2)
    assert first.next_cursor is not None
    second = await list_messages_after(
        session=session, channel_id=channel_id, after=first.next_cursor, limit=2
    )
    assert second.next_cursor is not None
    last = await list_messages_after(
        session=session, channel_id=channel_id, after=second.next_cursor, limit=2
    )
    caught_up = await list_messages_after(
        session=session, channel_id=channel_id, after=ids[-1], limit=2
    )

    assert (_ids(first), first.next_cursor) == (ids[0:2], ids[1])
    assert (_ids(second), second.next_cursor) == (ids[2:4], ids[3])
    assert (_ids(last), last.next_cursor) == (ids[4:5], None)
    assert (_ids(caught_up), caught_up.next_cursor) == ([], None)


async def test_a_page_size_below_one_is_refused(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="limit"):
        await list_messages_before(session=session, channel_id=1, before=None, limit=0)
    with pytest.raises(ValueError, match="limit"):
        await list_messages_after(session=session, channel_id=1, after=0, limit=0)


async def test_editing_changes_content_and_updated_at_only(session: AsyncSession) -> None:
    _, [message_id] = await _channel_with_messages(session, 1)
    before = await get_message(session=session, message_id=message_id)
    assert before is not None
    created_at = before.created_at
    later = created_at + timedelta(seconds=5)

    edited = await update_message(
        session=session, message_id=message_id, content="edited", now=later
    )

    assert (edited.content, edited.created_at, edited.updated_at) == ("edited", created_at, later)
    authored = await get_authored_message(session=session, message_id=message_id)
    assert authored is not None
    assert (authored.message.content, authored.username) == ("edited", "sara")


async def test_created_at_and_updated_at_start_equal(session: AsyncSession) -> None:
    author = await make_user(session)
    server = await make_server(session, author)
    channel_id = await general_channel_id(session, server.id)
    at = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)

    message = await create_message(
        session=session, channel_id=channel_id, user_id=author.id, content="hi", now=at
    )

    assert message.created_at == message.updated_at == at


async def test_deleting_a_message_returns_it_and_unknown_ids_raise(session: AsyncSession) -> None:
    channel_id, [message_id] = await _channel_with_messages(session, 1)

    deleted = await delete_message(session=session, message_id=message_id)

    assert (deleted.id, deleted.channel_id) == (message_id, channel_id)
    assert await get_message(session=session, message_id=message_id) is None
    with pytest.raises(MessageNotFound, match=f"no message {message_id}"):
        await delete_message(session=session, message_id=message_id)
    with pytest.raises(MessageNotFound):
        await update_message(session=session, message_id=message_id, content="x")


async def test_ids_of_deleted_messages_are_never_reused(session: AsyncSession) -> None:
    channel_id, ids = await _channel_with_messages(session, 2)
    author = await make_user(session)
    await delete_message(session=session, message_id=ids[-1])
    await session.commit()

    newer = await create_message(
        session=session, channel_id=channel_id, user_id=author.id, content="after delete"
    )

    assert newer.id > ids[-1]
