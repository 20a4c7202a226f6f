"""Domain errors with stable codes, mapped once to HTTP bodies and socket error events."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from contract_runtime.errors import ContractError


class DomainError(ContractError):
    """An expected failure a client can act on; `code` is the stable string clients switch on.

    It is a `ContractError`, so the generated router maps it to the socket error event and
    failed ack of its code, as the REST error handler maps it to the HTTP body.
    """

    code: str = "E_INTERNAL"
    http_status: int = 500
    default_message: str = "internal error"

    def __init_subclass__(
        cls,
        *,
        code: str | None = None,
        status: int | None = None,
        message: str | None = None,
        **kwargs: Any,
    ) -> None:
        """A subclass names its code, HTTP status and default message in its header."""
        super().__init_subclass__(**kwargs)
        for name, value in (("code", code), ("http_status", status), ("default_message", message)):
            if value is not None:
                setattr(cls, name, value)

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Sequence[Mapping[str, object]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message: str = message if message is not None else self.default_message
        self.details: list[dict[str, object]] | None = (
            [dict(item) for item in details] if details is not None else None
        )
        self.headers: dict[str, str] = dict(headers) if headers is not None else {}
        super().__init__(self.message, extra=self.socket_extra())

    def socket_extra(self) -> dict[str, object]:
        """Fields the socket error event / ack carries besides `code` and `message`."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class AboutOne(DomainError):
    """An error about one thing (an id, a code, a name): its default message quotes it.

    `template` is formatted with the thing's `repr`, e.g. `"no server {!r}"`.
    """

    template: str = "{!r}"

    def __init_subclass__(cls, *, template: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if template is not None:
            cls.template = template

    def __init__(self, subject: object, message: str | None = None) -> None:
        super().__init__(message or self.template.format(subject))


class Unauthorized(
    DomainError, code="E_UNAUTHORIZED", status=401, message="authentication required"
):
    """No valid session."""


class Forbidden(DomainError, code="E_FORBIDDEN", status=403, message="forbidden"):
    """The caller can see the resource but lacks the permission."""


class ValidationFailed(DomainError, code="E_VALIDATION", status=422, message="invalid request"):
    """The request does not satisfy the contract; `details` says which field and why."""

    def socket_extra(self) -> dict[str, object]:
        """Socket validation errors carry the details too."""
        return {"details": self.details or []}


class NotFound(DomainError, code="E_NOT_FOUND", status=404, message="not found"):
    """A resource does not exist or the caller may not know that it does."""


class NotFoundAbout(AboutOne, NotFound):
    """A missing thing named by its id."""


class ServerNotFound(NotFoundAbout, code="E_SERVER_NOT_FOUND", template="no server {!r}"):
    """No such server (or a private one the caller may not see)."""


class ChannelNotFound(NotFoundAbout, code="E_CHANNEL_NOT_FOUND", template="no channel {!r}"):
    """No such channel (or one in a server the caller may not see)."""


class MessageNotFound(NotFoundAbout, code="E_MESSAGE_NOT_FOUND", template="no message {!r}"):
    """No such message."""


class UserNotFound(NotFoundAbout, code="E_USER_NOT_FOUND", template="no user {!r}"):
    """No such user (or no such member of the server in question)."""


class EmailTaken(
    AboutOne, code="E_EMAIL_TAKEN", status=409, template="email {!r} is already registered"
):
    """An account with this email exists."""


class InvalidCredentials(
    DomainError, code="E_INVALID_CREDENTIALS", status=401, message="invalid email or password"
):
    """Wrong email or password; deliberately the same for both."""


class RateLimited(DomainError, code="E_RATE_LIMITED", status=429):
    """Too many attempts; retry after the given time."""

    def __init__(self, retry_after_seconds: float, message: str | None = None) -> None:
        self.retry_after_seconds = max(0.0, float(retry_after_seconds))
        self.retry_after_ms = math.ceil(self.retry_after_seconds * 1000)
        # Retry-After takes whole seconds; rounding up never invites an early retry.
        header_seconds = max(1, math.ceil(self.retry_after_seconds))
        super().__init__(
            message or f"too many attempts, retry after {header_seconds!r} s",
            headers={"Retry-After": str(header_seconds)},
        )

    def socket_extra(self) -> dict[str, object]:
        """The socket error carries `retryAfterMs`."""
        return {"retryAfterMs": self.retry_after_ms}


class AlreadyMember(
    AboutOne, code="E_ALREADY_MEMBER", status=409, template="already a member of server {!r}"
):
    """The user already belongs to the server."""


class InviteRequired(
    AboutOne, code="E_INVITE_REQUIRED", status=403, template="server {!r} needs an invite code"
):
    """A private server needs an invite code to join."""


class InviteNotFound(AboutOne, code="E_INVITE_NOT_FOUND", status=404, template="no invite {!r}"):
    """No invite with this code (for this server)."""


class InviteExpired(
    AboutOne, code="E_INVITE_EXPIRED", status=410, template="invite {!r} has expired or is used up"
):
    """The invite expired or was used up."""


class OwnerCannotLeave(
    AboutOne, code="E_OWNER_CANNOT_LEAVE", status=403, template="the owner cannot leave server {!r}"
):
    """The owner must transfer ownership before leaving (and cannot be kicked)."""


class ChannelNameTaken(
    AboutOne, code="E_CHANNEL_NAME_TAKEN", status=409, template="channel name {!r} is taken"
):
    """The server already has a channel with this name."""


class PayloadTooLarge(
    AboutOne, code="E_PAYLOAD_TOO_LARGE", status=413, template="payload larger than {!r} bytes"
):
    """The request body exceeds the configured limit."""


class Internal(DomainError, code="E_INTERNAL", status=500, message="internal error"):
    """Something unexpected failed; details are in the server log, not the response."""
