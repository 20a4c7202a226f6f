"""After the commit the change is the truth: a failing broadcast never fails the operation."""

from __future__ import annotations

import logging

import pytest

from generated.realtime.models import Message
from service.chat.messages import Messages
from service.chat.notifier import Guarded, Notifier
from service.chat.parts import ChatParts
from tests.chat.conftest import Domain

pytestmark = pytest.mark.anyio


class Broken(Notifier):
    """Every effect fails, as a real-time side with a dead connection would."""

    async def message_created(self, message: Message) -> None:
        raise ConnectionError("the sockets are gone")

    async def online_user_ids(self, user_ids: list[int]) -> set[int]:
        raise ConnectionError("presence is gone")


async def test_a_failing_broadcast_is_logged_and_the_message_stays_posted(
    domain: Domain, caplog: pytest.LogCaptureFixture
) -> None:
    sara = await domain.user("Sara")
    place = await domain.place(sara)
    parts = domain.chat.parts
    messages = Messages(
        ChatParts(parts.sessionmaker, Guarded(Broken()), parts.message_rate, parts.message_writer)
    )
    with caplog.at_level(logging.ERROR, logger="service.chat.notifier"):
        message = await messages.post(
            user_id=sara.id, username="Sara", channel_id=place.channel_id, content="kept"
        )
    assert message.content == "kept"
    page = await domain.chat.messages.page(user_id=sara.id, channel_id=place.channel_id, limit=5)
    assert [item.message.id for item in page.messages] == [message.id]
    assert "failed after the change was committed" in caplog.text
    assert "the sockets are gone" in caplog.text  # with its traceback


async def test_presence_that_cannot_be_asked_answers_nobody_online() -> None:
    assert await Guarded(Broken()).online_user_ids([1, 2]) == set()
    assert await Guarded(Notifier()).online_user_ids([1, 2]) == set()
