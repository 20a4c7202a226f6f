"""Domain errors with stable codes, mapped once to HTTP bodies and socket error events."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from contract_runtime.errors import ContractError


class DomainError(ContractError):
    """An expected failure a client can act on; `code` is the stable string clients switch on.

    It is a `ContractError`, so the generated router maps it to the socket error event and
    failed ack of its code, as the REST error handler maps it to the HTTP body.
    """

    code: str = "E_INTERNAL"
    http_status: int = 500
    default_message: str = "internal error"

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

    def __init__(self, subject: object, message: str | None = None) -> None:
        super().__init__(message or self.template.format(subject))


class Unauthorized(DomainError):
    """No valid session."""

    code = "E_UNAUTHORIZED"
    http_status = 401
    default_message = "authentication required"


class Forbidden(DomainError):
    """The caller can see the resource but lacks the permission."""

    code = "E_FORBIDDEN"
    http_status = 403
    default_message = "forbidden"


class ValidationFailed(DomainError):
    """The request does not satisfy the contract; `details` says which field and why."""

    code = "E_VALIDATION"
    http_status = 422
    default_message = "invalid request"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Sequence[Mapping[str, object]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, details=details if details is not None else [], headers=headers)

    def socket_extra(self) -> dict[str, object]:
        """Socket validation errors carry the details too."""
        return {"details": self.details or []}


class NotFound(DomainError):
    """A resource does not exist or the caller may not know that it does."""

    code = "E_NOT_FOUND"
    http_status = 404
    default_message = "not found"


class NotFoundAbout(AboutOne, NotFound):
    """A missing thing named by its id."""


class ServerNotFound(NotFoundAbout):
    """No such server (or a private one the caller may not see)."""

    code, template = "E_SERVER_NOT_FOUND", "no server {!r}"


class ChannelNotFound(NotFoundAbout):
    """No such channel (or one in a server the caller may not see)."""

    code, template = "E_CHANNEL_NOT_FOUND", "no channel {!r}"


class MessageNotFound(NotFoundAbout):
    """No such message."""

    code, template = "E_MESSAGE_NOT_FOUND", "no message {!r}"


class UserNotFound(NotFoundAbout):
    """No such user (or no such member of the server in question)."""

    code, template = "E_USER_NOT_FOUND", "no user {!r}"


class EmailTaken(AboutOne):
    """An account with this email exists."""

    code, http_status, template = "E_EMAIL_TAKEN", 409, "email {!r} is already registered"


class InvalidCredentials(DomainError):
    """Wrong email or password; deliberately the same for both."""

    code = "E_INVALID_CREDENTIALS"
    http_status = 401
    default_message = "invalid email or password"


class RateLimited(DomainError):
    """Too many attempts; retry after the given time."""

    code = "E_RATE_LIMITED"
    http_status = 429

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


class AlreadyMember(AboutOne):
    """The user already belongs to the server."""

    code, http_status, template = "E_ALREADY_MEMBER", 409, "already a member of server {!r}"


class InviteRequired(AboutOne):
    """A private server needs an invite code to join."""

    code, http_status, template = "E_INVITE_REQUIRED", 403, "server {!r} needs an invite code"


class InviteNotFound(AboutOne):
    """No invite with this code (for this server)."""

    code, http_status, template = "E_INVITE_NOT_FOUND", 404, "no invite {!r}"


class InviteExpired(AboutOne):
    """The invite expired or was used up."""

    code, http_status, template = "E_INVITE_EXPIRED", 410, "invite {!r} has expired or is used up"


class OwnerCannotLeave(AboutOne):
    """The owner must transfer ownership before leaving (and cannot be kicked)."""

    code, http_status, template = "E_OWNER_CANNOT_LEAVE", 403, "the owner cannot leave server {!r}"


class ChannelNameTaken(AboutOne):
    """The server already has a channel with this name."""

    code, http_status, template = "E_CHANNEL_NAME_TAKEN", 409, "channel name {!r} is taken"


class PayloadTooLarge(AboutOne):
    """The request body exceeds the configured limit."""

    code, http_status, template = "E_PAYLOAD_TOO_LARGE", 413, "payload larger than {!r} bytes"


class Internal(DomainError):
    """Something unexpected failed; details are in the server log, not the response."""

    code = "E_INTERNAL"
    http_status = 500
    default_message = "internal error"
