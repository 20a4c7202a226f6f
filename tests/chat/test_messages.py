"""The message rules, once for REST and sockets: trimming, order of checks, limit, roles."""

from __future__ import annotations

import pytest

from service.db import memberships
from service.errors import (
    ChannelNotFound,
    Forbidden,
    MessageNotFound,
    RateLimited,
    ValidationFailed,
)
from tests.chat.conftest import RATE_LIMIT, Domain

pytestmark = pytest.mark.anyio


async def test_a_posted_message_is_stored_trimmed_and_told_as_stored(domain: Domain) -> None:
    sara = await domain.user("Sara")
    place = await domain.place(sara)
    message = await domain.chat.messages.post(
        user_id=sara.id, username="Sara", channel_id=place.channel_id, content="  hello \n"
    )
    assert message.content == "hello"
    assert message.user.username == "Sara"
    page = await domain.chat.messages.page(user_id=sara.id, channel_id=place.channel_id, limit=5)
    assert [item.message.content for item in page.messages] == ["hello"]
    assert domain.notifier.calls == [
        ("message_created", {"message": message.model_dump(), "channel_id": place.channel_id})
    ]


# The spec's white space (service.text): U+2028 and U+FEFF are, U+001C is not.
@pytest.mark.parametrize("content", ["   ", "\u2028\ufeff", "\t\n"])
async def test_white_space_only_is_invalid_before_any_other_check(
    domain: Domain, content: str
) -> None:
    omar = await domain.user("Omar")
    with pytest.raises(ValidationFailed) as refused:
        # Not a member, not even an existing channel: the content is checked first.
        await domain.chat.messages.post(
            user_id=omar.id, username="Omar", channel_id=999_999, content=content
        )
    assert refused.value.details == [
        {"loc": ["content"], "msg": "only white space", "type": "value_error"}
    ]


async def test_the_rate_limit_counts_members_messages_only(domain: Domain) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    place = await domain.place(sara)
    for _ in range(RATE_LIMIT + 2):
        with pytest.raises(ChannelNotFound):
            await domain.chat.messages.post(
                user_id=omar.id, username="Omar", channel_id=place.channel_id, content="spam"
            )
    async with domain.sessionmaker() as s:
        await memberships.add_member(session=s, server_id=place.server_id, user_id=omar.id)
        await s.commit()
    for i in range(RATE_LIMIT):
        await domain.chat.messages.post(
            user_id=omar.id, username="Omar", channel_id=place.channel_id, content=f"m{i}"
        )
    with pytest.raises(RateLimited) as limited:
        await domain.chat.messages.post(
            user_id=omar.id, username="Omar", channel_id=place.channel_id, content="one more"
        )
    assert limited.value.retry_after_seconds > 0
    page = await domain.chat.messages.page(user_id=sara.id, channel_id=place.channel_id, limit=9)
    assert [item.message.content for item in page.messages] == ["m0", "m1", "m2"]


async def test_only_the_author_edits_and_the_edit_is_told(domain: Domain) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    place = await domain.place(sara, omar)
    message = await domain.chat.messages.post(
        user_id=omar.id, username="Omar", channel_id=place.channel_id, content="draft"
    )
    with pytest.raises(Forbidden):
        await domain.chat.messages.edit(user_id=sara.id, message_id=message.id, content="owner")
    edited = await domain.chat.messages.edit(
        user_id=omar.id, message_id=message.id, content=" final "
    )
    assert (edited.id, edited.content) == (message.id, "final")
    assert domain.notifier.names() == ["message_created", "message_updated"]


async def test_the_author_an_admin_or_the_owner_deletes_a_plain_member_not(
    domain: Domain,
) -> None:
    sara, omar, lina = [await domain.user(n) for n in ("Sara", "Omar", "Lina")]
    place = await domain.place(sara, omar, lina)
    post = domain.chat.messages.post
    by_omar = await post(user_id=omar.id, username="Omar", channel_id=place.channel_id, content="a")
    with pytest.raises(Forbidden):
        await domain.chat.messages.delete(user_id=lina.id, message_id=by_omar.id)
    deleted = await domain.chat.messages.delete(user_id=sara.id, message_id=by_omar.id)
    assert (deleted.message_id, deleted.channel_id) == (by_omar.id, place.channel_id)
    with pytest.raises(MessageNotFound):
        await domain.chat.messages.delete(user_id=sara.id, message_id=by_omar.id)
    assert domain.notifier.effects(message_id=by_omar.id) == [
        ("message_deleted", {"message_id": by_omar.id, "channel_id": place.channel_id})
    ]


async def test_rest_names_the_channel_and_a_message_of_another_is_missing(domain: Domain) -> None:
    sara = await domain.user("Sara")
    first, second = await domain.place(sara), await domain.place(sara)
    message = await domain.chat.messages.post(
        user_id=sara.id, username="Sara", channel_id=first.channel_id, content="here"
    )
    with pytest.raises(MessageNotFound):
        await domain.chat.messages.edit(
            user_id=sara.id, message_id=message.id, content="x", channel_id=second.channel_id
        )
