"""The one rule for "not a member of a private server", as REST and sockets both get it.

What the caller may not see is missing; once the caller can see it (a public server), a
missing membership is E_FORBIDDEN; `server:join`'s check answers E_FORBIDDEN for all.
"""

from __future__ import annotations

import pytest

from service.errors import ChannelNotFound, Forbidden, MessageNotFound
from tests.chat.conftest import Domain

pytestmark = pytest.mark.anyio


async def test_a_private_servers_channel_is_missing_to_a_non_member(domain: Domain) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    private = await domain.place(sara)
    with pytest.raises(ChannelNotFound):
        await domain.chat.channels.require_member(user_id=omar.id, channel_id=private.channel_id)


async def test_a_public_servers_channel_is_forbidden_to_a_non_member(domain: Domain) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    public = await domain.place(sara, public=True)
    with pytest.raises(Forbidden):
        await domain.chat.channels.require_member(user_id=omar.id, channel_id=public.channel_id)


async def test_a_missing_channel_and_a_private_one_answer_alike(domain: Domain) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    private = await domain.place(sara)
    with pytest.raises(ChannelNotFound) as missing:
        await domain.chat.channels.require_member(user_id=omar.id, channel_id=999_999)
    with pytest.raises(ChannelNotFound) as hidden:
        await domain.chat.channels.require_member(user_id=omar.id, channel_id=private.channel_id)
    assert missing.value.message == "no channel 999999"
    assert hidden.value.message == f"no channel {private.channel_id}"


async def test_members_may_use_the_channel_of_their_private_server(domain: Domain) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    private = await domain.place(sara, omar)
    access = await domain.chat.channels.require_member(
        user_id=omar.id, channel_id=private.channel_id
    )
    assert (access.channel.id, access.role) == (private.channel_id, "member")


async def test_server_join_is_forbidden_for_a_missing_private_or_public_server(
    domain: Domain,
) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    private, public = await domain.place(sara), await domain.place(sara, public=True)
    for server_id in (999_999, private.server_id, public.server_id):
        with pytest.raises(Forbidden):
            await domain.chat.servers.require_member(user_id=omar.id, server_id=server_id)
    assert await domain.chat.servers.require_member(
        user_id=sara.id, server_id=private.server_id
    ) == ("owner")


async def test_posting_follows_the_rule_and_stores_and_tells_nothing(domain: Domain) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    private, public = await domain.place(sara), await domain.place(sara, public=True)
    post = domain.chat.messages.post
    with pytest.raises(ChannelNotFound):
        await post(user_id=omar.id, username="Omar", channel_id=private.channel_id, content="hi")
    with pytest.raises(Forbidden):
        await post(user_id=omar.id, username="Omar", channel_id=public.channel_id, content="hi")
    for place in (private, public):
        page = await domain.chat.messages.page(
            user_id=sara.id, channel_id=place.channel_id, limit=10
        )
        assert page.messages == []
    assert domain.notifier.calls == []


async def test_a_message_named_alone_is_missing_in_a_private_server_forbidden_in_a_public(
    domain: Domain,
) -> None:
    sara, omar = await domain.user("Sara"), await domain.user("Omar")
    private, public = await domain.place(sara), await domain.place(sara, public=True)
    ids = {}
    for name, place in (("private", private), ("public", public)):
        message = await domain.chat.messages.post(
            user_id=sara.id, username="Sara", channel_id=place.channel_id, content=name
        )
        ids[name] = message.id
    with pytest.raises(MessageNotFound):
        await domain.chat.messages.delete(user_id=omar.id, message_id=ids["private"])
    with pytest.raises(MessageNotFound):
        await domain.chat.messages.edit(user_id=omar.id, message_id=ids["private"], content="x")
    with pytest.raises(Forbidden):
        await domain.chat.messages.delete(user_id=omar.id, message_id=ids["public"])
    with pytest.raises(Forbidden):
        await domain.chat.messages.edit(user_id=omar.id, message_id=ids["public"], content="x")
