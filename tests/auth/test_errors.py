"""Domain errors carry stable codes, HTTP statuses and messages that quote the value."""

from __future__ import annotations

import pytest

from service import errors
from service.errors import (
    ChannelNotFound,
    DomainError,
    EmailTaken,
    NotFound,
    RateLimited,
    ValidationFailed,
)

CONTRACT_CODES = {
    "E_UNAUTHORIZED": 401,
    "E_FORBIDDEN": 403,
    "E_VALIDATION": 422,
    "E_NOT_FOUND": 404,
    "E_SERVER_NOT_FOUND": 404,
    "E_CHANNEL_NOT_FOUND": 404,
    "E_MESSAGE_NOT_FOUND": 404,
    "E_USER_NOT_FOUND": 404,
    "E_EMAIL_TAKEN": 409,
    "E_INVALID_CREDENTIALS": 401,
    "E_RATE_LIMITED": 429,
    "E_ALREADY_MEMBER": 409,
    "E_INVITE_REQUIRED": 403,
    "E_INVITE_NOT_FOUND": 404,
    "E_INVITE_EXPIRED": 410,
    "E_OWNER_CANNOT_LEAVE": 403,
    "E_CHANNEL_NAME_TAKEN": 409,
    "E_PAYLOAD_TOO_LARGE": 413,
    "E_INTERNAL": 500,
}


def test_every_contract_code_has_one_error_class_with_its_status() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, DomainError)
        and value is not DomainError
        and "code" in vars(value)  # not the bases that only share behaviour (AboutOne)
    ]

    assert {cls.code: cls.http_status for cls in classes} == CONTRACT_CODES
    assert len(classes) == len(CONTRACT_CODES)


def test_messages_quote_the_offending_value_unless_one_is_given() -> None:
    error = ChannelNotFound(42)

    assert isinstance(error, NotFound)
    assert error.message == "no channel 42"
    assert (error.code, error.http_status) == ("E_CHANNEL_NOT_FOUND", 404)
    assert ChannelNotFound(42, "gone").message == "gone"
    assert error.socket_extra() == {}
    assert EmailTaken("a@b.test").message == "email 'a@b.test' is already registered"


def test_validation_errors_carry_details_to_http_and_socket() -> None:
    error = ValidationFailed(details=[{"field": "content", "problem": "empty"}])

    assert (error.message, error.http_status) == ("invalid request", 422)
    assert error.details == [{"field": "content", "problem": "empty"}]
    assert error.socket_extra() == {"details": [{"field": "content", "problem": "empty"}]}


def test_rate_limited_carries_retry_after_for_http_and_socket() -> None:
    with pytest.raises(RateLimited) as raised:
        raise RateLimited(2.5)

    assert raised.value.headers == {"Retry-After": "3"}
    assert raised.value.socket_extra() == {"retryAfterMs": 2500}
