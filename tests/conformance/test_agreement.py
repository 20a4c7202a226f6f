"""REST and the sockets agree: what REST answers is what the sockets receive."""

from __future__ import annotations

import pytest

from conformance.harness import Harness
from conformance.rest import RestSpec
from conformance.spec import Contract
from conformance.target import LocalTarget
from conformance.world import Driver

pytestmark = pytest.mark.anyio


async def test_a_message_created_over_rest_arrives_as_message_new_equal_to_the_rest_body(
    target: LocalTarget, contract: Contract, rest_spec: RestSpec
) -> None:
    h = Harness(target.url, contract, rest_spec)
    try:
        d = Driver(h)
        owner, member = await d.signup("sara"), await d.signup("omar")
        place = await d.create_server(owner, "agreement", public=True)
        await d.join(member, place)
        channel = place.channels[0]
        sockets = [await h.connect(owner), await h.connect(member), await h.connect(member)]
        for s in sockets:
            await h.socket_step(s, "server:join", ({"serverId": place.server_id},), valid=True)
            await h.socket_step(s, "channel:join", ({"channelId": channel},), valid=True)
        since = h.observer.last_seq
        created = await h.rest_step(
            "omar posts over REST",
            "create_message",
            cookie=member.cookie,
            json={"content": "  hello from REST  "},
            channelId=channel,
            expect=201,
        )
        body = created.body["message"]
        assert body["content"] == "hello from REST"
        for s in sockets:
            assert h.observer.received(s, "message:new", since=since) == [body]
        history = await d.history(owner, channel)
        assert [m for m in history if m["id"] == body["id"]] == [body]
        assert h.violations == []
    finally:
        await h.aclose()
