"""The deviations the runner found (conformance/known.py), each shown on its own.

A test of a deviation still open is `xfail(strict=True)`: when its fix lands it passes
unexpectedly and fails the suite; then its marker and its entry in known.py go. The
unmarked tests here are deviations already fixed, kept as regression tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conformance.harness import Harness
from conformance.known import KNOWN, Known
from conformance.rest import RestSpec
from conformance.spec import Contract
from conformance.target import LocalTarget
from conformance.world import Driver, Place

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("quiet_server_logs")]


def known(key: str) -> str:
    """The xfail reason: where the deviation is and what to do."""
    entry: Known = next(k for k in KNOWN if k.key == key)
    return f"known deviation {key} ({entry.where}): {entry.explanation}"


@pytest.fixture
async def harness(
    target: LocalTarget, contract: Contract, rest_spec: RestSpec
) -> AsyncIterator[Harness]:
    h = Harness(
        target.url,
        contract,
        rest_spec,
        ack_timeout=3,
        presence_interval=target.settings.presence_interval_seconds,
    )
    try:
        yield h
    finally:
        await h.aclose()


async def typing_member_is_kicked(h: Harness, tabs: int) -> None:
    """A user with `tabs` sockets in a channel, one typing, is kicked; the owner watches."""
    d = Driver(h)
    owner, user = await d.signup("own"), await d.signup("usr")
    place: Place = await d.create_server(owner, "typing place", public=True)
    await d.join(user, place)
    channel = place.channels[0]
    sockets = [await h.connect(owner)] + [await h.connect(user) for _ in range(tabs)]
    for s in sockets:
        await h.socket_step(s, "server:join", ({"serverId": place.server_id},), valid=True)
        await h.socket_step(s, "channel:join", ({"channelId": channel},), valid=True)
    await h.socket_step(sockets[1], "typing:start", ({"channelId": channel},), valid=True)
    await d.kick(owner, place, user)


async def test_a_removed_users_other_tabs_hear_nothing_of_the_channel_after_member_left(
    harness: Harness,
) -> None:
    # Which of the two tabs the server takes out first varies: ten tries show the leak.
    for _ in range(10):
        await typing_member_is_kicked(harness, tabs=2)
    assert "membership" not in harness.observer.kinds(), harness.observer.summary()


async def test_every_event_kick_member_sends_is_listed_in_its_x_emits(harness: Harness) -> None:
    await typing_member_is_kicked(harness, tabs=1)
    assert "x-emits" not in harness.observer.kinds(), harness.observer.summary()


async def test_two_tabs_deleting_one_message_at_once_delete_it_once(harness: Harness) -> None:
    d = Driver(harness)
    author = await d.signup("del")
    place = await d.create_server(author, "deletes", public=True)
    channel = place.channels[0]
    tabs = [await harness.connect(author) for _ in range(2)]
    for tab in tabs:
        await harness.socket_step(tab, "channel:join", ({"channelId": channel},), valid=True)
    for n in range(10):
        message_id = await d.post(author, channel, f"to delete {n}")
        both = [await t.send("message:delete", ({"messageId": message_id},)) for t in tabs]
        for request in both:
            await harness.wait(request)
        # One delete wins; the other finds nothing. (Under pytest's warnings-as-errors the
        # loser's SQLAlchemy warning becomes an exception: E_INTERNAL instead of a second ok.)
        codes = sorted(str(r.code) for r in both)
        assert codes == ["E_MESSAGE_NOT_FOUND", "None"], [r.reply for r in both]


async def test_a_400_digit_number_is_answered_with_the_validation_error(
    harness: Harness,
) -> None:
    d = Driver(harness)
    probe = await harness.connect(await d.signup("big"))
    request = await probe.send("server:join", ({"serverId": 10**400},))
    await harness.wait(request, within=3)
    assert request.code == harness.contract.validation_code, harness.observer.summary()


@pytest.mark.xfail(
    strict=True, raises=AssertionError, reason=known("list-messages-before-and-after")
)
async def test_history_with_both_cursors_valid_in_the_schema_is_accepted(harness: Harness) -> None:
    d = Driver(harness)
    owner = await d.signup("hist")
    place = await d.create_server(owner, "history", public=True)
    page = await harness.rest.call(
        "list_messages",
        cookie=owner.cookie,
        params={"before": 10, "after": 1},
        channelId=place.channels[0],
    )
    assert page.status == 200, page.body


async def test_a_server_name_of_a_control_character_is_not_a_server_error(
    harness: Harness,
) -> None:
    d = Driver(harness)
    owner = await d.signup("ctl")
    created = await harness.rest.call(
        "create_server", cookie=owner.cookie, json={"name": "\x1c", "is_public": True}
    )
    assert created.status in (201, 422), created.body


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=known("email-special-use-domains"))
async def test_an_email_the_schema_accepts_is_not_refused_as_invalid(target: LocalTarget) -> None:
    async with httpx.AsyncClient(base_url=target.url) as http:
        answer = await http.post(
            "/api/auth/login", json={"email": "someone@mail.test", "password": "x" * 12}
        )
    assert answer.status_code == 401, answer.text


def test_every_known_deviation_has_a_test_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [k.key for k in KNOWN if f'known("{k.key}")' not in source]
    assert not missing
    assert len({k.key for k in KNOWN}) == len(KNOWN)
