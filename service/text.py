"""The contract's text rules, taken from the spec itself: schema-valid means accepted.

"White space" is what the spec's pattern for message content and server names excludes
(spec/common.yaml `MessageContent`, `ServerName`: ECMAScript's `\\s`, spelled out), read
here from the generated model, not restated. Python's own notion differs (`str.strip`
and `str.isspace` also count U+001C to U+001F and U+0085), so the server never uses it
on contract text: it trims exactly `WHITE_SPACE`, and a value the pattern accepts always
has something left after trimming. The same pattern refuses U+0000 anywhere (no database
stores it as text); `acceptable` is the whole rule, the schema's own.
"""

from __future__ import annotations

import re

from generated.rest.models import MessageCreateRequest

CONTENT_PATTERN: str = MessageCreateRequest.model_json_schema()["properties"]["content"]["pattern"]
_NOT_WHITE = re.compile(CONTENT_PATTERN)

# Every character some engine calls white space (Python's `str.isspace`, Unicode's
# White_Space, ECMAScript's `\s`) or zero-width: the spec's pattern decides among them.
_CANDIDATES = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u180e"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
WHITE_SPACE: str = "".join(sorted(c for c in _CANDIDATES if not _NOT_WHITE.search(c)))


def trim(value: str) -> str:
    """`value` without leading and trailing white space, as the contract defines it."""
    return value.strip(WHITE_SPACE)


def acceptable(value: str) -> bool:
    """Whether the spec's pattern accepts `value`: something not white space, and no NUL."""
    return _NOT_WHITE.search(value) is not None


def is_blank(value: str) -> bool:
    """Whether `value` has no character that is not white space (the pattern would refuse it)."""
    return _NOT_WHITE.search(value) is None


assert not acceptable("a\x00b"), "the spec's text pattern must refuse U+0000"
