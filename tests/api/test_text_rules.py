"""One definition of white space, the spec's: schema-valid text is accepted, and trimmed of
exactly the characters the spec's pattern calls white space (regressions from the
conformance run: `POST /api/servers` with name "\\u001c" was answered 422)."""

from __future__ import annotations

import re
import sys

import pytest

from service.text import CONTENT_PATTERN, WHITE_SPACE, is_blank, trim
from tests.support.clients import Api, expect

pytestmark = pytest.mark.anyio


def test_white_space_is_exactly_what_the_spec_pattern_excludes_over_all_of_unicode() -> None:
    pattern = re.compile(CONTENT_PATTERN)
    excluded = "".join(chr(c) for c in range(sys.maxunicode + 1) if not pattern.search(chr(c)))
    # U+0000 is refused anywhere in the text (contract 3.0.0), not white space: never trimmed.
    assert excluded == "\x00" + WHITE_SPACE
    assert "\x00" not in WHITE_SPACE
    # ECMAScript's \s, which JSON Schema's regex dialect means; not Python's isspace.
    assert "\x1c" not in WHITE_SPACE and "\x85" not in WHITE_SPACE
    assert "\ufeff" in WHITE_SPACE and "\u3000" in WHITE_SPACE


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("\x1c", "\x1c"),
        (" \x1f ", "\x1f"),
        ("\x85x\x85", "\x85x\x85"),
        ("\ufeff name \u3000", "name"),
    ],
    ids=["U+001C", "U+001F-in-spaces", "U+0085", "BOM-and-ideographic-space"],
)
async def test_a_server_name_the_schema_accepts_is_created_and_trimmed_by_the_spec(
    api: Api, sent: str, stored: str
) -> None:
    owner = await api.person()
    server = expect(await owner.http.post("/api/servers", json={"name": sent}), 201)["server"]
    assert server["name"] == stored == trim(sent)


@pytest.mark.parametrize("blank", ["\ufeff", "\ufeff\u00a0\t"])
async def test_a_name_of_spec_white_space_only_is_422(api: Api, blank: str) -> None:
    assert is_blank(blank)
    owner = await api.person()
    expect(await owner.http.post("/api/servers", json={"name": blank}), 422, "E_VALIDATION")


async def test_message_content_follows_the_same_rule(api: Api) -> None:
    owner = await api.person()
    server = expect(await owner.http.post("/api/servers", json={"name": "t"}), 201)["server"]
    channels = expect(await owner.http.get(f"/api/servers/{server['id']}/channels"), 200)
    url = f"/api/channels/{channels['channels'][0]['id']}/messages"
    message = expect(await owner.http.post(url, json={"content": "\x1d\n"}), 201)
    assert message["message"]["content"] == "\x1d"
    expect(await owner.http.post(url, json={"content": "\u3000\n"}), 422, "E_VALIDATION")
